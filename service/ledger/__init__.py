"""The tamper-evident audit ledger (RFC 6962 Merkle tree over events, signed checkpoints).

Names load lazily (PEP 562): the client side (`veriframe-admin audit proof`) needs `merkle` and
`checkpoint` to check proofs and signatures, and must not pull in sqlalchemy to get them.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "events": "service.ledger.events",
    "merkle": "service.ledger.merkle",
    "CheckpointBody": "service.ledger.checkpoint",
    "load_private_key": "service.ledger.checkpoint",
    "load_public_key": "service.ledger.checkpoint",
    "ConsistencyProof": "service.ledger.ledger",
    "EventInput": "service.ledger.ledger",
    "InclusionProof": "service.ledger.ledger",
    "Ledger": "service.ledger.ledger",
    "LedgerError": "service.ledger.ledger",
    "TreeHead": "service.ledger.ledger",
    "Finding": "service.ledger.verify",
    "VerifyReport": "service.ledger.verify",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'service.ledger' has no attribute {name!r}")
    module = import_module(_LAZY[name])
    return module if module.__name__.endswith(name) else getattr(module, name)
