"""The tamper-evident audit ledger (RFC 6962 Merkle tree over events, signed checkpoints)."""

from service.ledger import events, merkle
from service.ledger.checkpoint import CheckpointBody, load_private_key, load_public_key
from service.ledger.ledger import ConsistencyProof, EventInput, InclusionProof, Ledger, LedgerError, TreeHead
from service.ledger.verify import Finding, VerifyReport

__all__ = [
    "CheckpointBody",
    "ConsistencyProof",
    "EventInput",
    "Finding",
    "InclusionProof",
    "Ledger",
    "LedgerError",
    "TreeHead",
    "VerifyReport",
    "events",
    "load_private_key",
    "load_public_key",
    "merkle",
]
