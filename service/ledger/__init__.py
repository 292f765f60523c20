"""The tamper-evident audit ledger (RFC 6962 Merkle tree over events, signed checkpoints).

Names load lazily (PEP 562): the client side (`veriframe-admin audit proof`) needs `merkle` and
`checkpoint` to check proofs and signatures, and must not pull in sqlalchemy to get them.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "events": "veriframe.service.ledger.events",
    "merkle": "veriframe.service.ledger.merkle",
    "CheckpointBody": "veriframe.service.ledger.checkpoint",
    "load_private_key": "veriframe.service.ledger.checkpoint",
    "load_public_key": "veriframe.service.ledger.checkpoint",
    "ConsistencyProof": "veriframe.service.ledger.ledger",
    "EventInput": "veriframe.service.ledger.ledger",
    "InclusionProof": "veriframe.service.ledger.ledger",
    "Ledger": "veriframe.service.ledger.ledger",
    "LedgerError": "veriframe.service.ledger.ledger",
    "TreeHead": "veriframe.service.ledger.ledger",
    "Finding": "veriframe.service.ledger.verify",
    "VerifyReport": "veriframe.service.ledger.verify",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'veriframe.service.ledger' has no attribute {name!r}")
    module = import_module(_LAZY[name])
    return module if module.__name__.endswith(name) else getattr(module, name)
