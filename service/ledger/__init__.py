"""The tamper-evident audit ledger (RFC 6962 Merkle tree over events, C2SP signed checkpoints).

Roles, one module each: `log` (append, proofs), `signer` (checkpoints), `cosignatures` (the
witnesses' lines, kept and served), `auditor` (verify), `retention`; `ledger.Ledger` puts them
together. Names load lazily (PEP 562) so `events` can be imported without sqlalchemy. A verifier
outside needs only `veriframe.provenance.transparency`.
"""

from importlib import import_module
from typing import Any

_LAZY = {
    "events": "veriframe.service.ledger.events",
    "ConsistencyProof": "veriframe.service.ledger.log",
    "EventInput": "veriframe.service.ledger.log",
    "InclusionProof": "veriframe.service.ledger.log",
    "TreeHead": "veriframe.service.ledger.log",
    "Ledger": "veriframe.service.ledger.ledger",
    "LedgerError": "veriframe.service.ledger.errors",
    "CosignatureRefused": "veriframe.service.ledger.cosignatures",
    "Finding": "veriframe.service.ledger.auditor",
    "VerifyReport": "veriframe.service.ledger.auditor",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'veriframe.service.ledger' has no attribute {name!r}")
    module = import_module(_LAZY[name])
    return module if module.__name__.endswith(name) else getattr(module, name)
