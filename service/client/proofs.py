"""Check a ledger inclusion proof from the server locally, as a Certificate Transparency client does.

The server is not trusted to say "verified": the audit path is re-hashed here up to the root, and the
root is checked against the signed checkpoint with the ledger's public key (pin it: a key the server
sends along only shows the server did not contradict itself). Needs `merkle` and `checkpoint`, which
import only hashlib and cryptography, so the light client can run it.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ProofCheck:
    path_ok: bool
    checkpoint_ok: bool
    how: str

    @property
    def ok(self) -> bool:
        return self.path_ok and self.checkpoint_ok


def check_inclusion_proof(proof: Any, public_key: Path | None = None) -> ProofCheck:
    """`proof` is a `veriframe.v1.InclusionProof` message; `public_key` a pinned ledger-pub.pem."""
    from veriframe.service.ledger import merkle

    try:
        path_ok = merkle.verify_inclusion(
            proof.leaf_index,
            proof.tree_size,
            bytes.fromhex(proof.leaf_hash),
            [bytes.fromhex(h) for h in proof.audit_path],
            bytes.fromhex(proof.root_hash),
        )
    except ValueError:
        path_ok = False
    if not proof.HasField("checkpoint"):
        return ProofCheck(path_ok, True, "no checkpoint covers this tree size yet: the root is the server's")
    try:
        checkpoint_ok, how = _check_checkpoint(proof.checkpoint, public_key)
    except (OSError, ValueError) as error:
        return ProofCheck(path_ok, False, f"checkpoint not verifiable: {error}")
    return ProofCheck(path_ok, checkpoint_ok and proof.checkpoint.root_hash == proof.root_hash, how)


def _check_checkpoint(checkpoint: Any, public_key: Path | None) -> tuple[bool, str]:
    from veriframe.service.ledger.checkpoint import CheckpointBody, load_public_key, verify_signature

    key = load_public_key(public_key) if public_key else load_public_key(checkpoint.public_key_pem.encode())
    body = CheckpointBody.parse(checkpoint.signed_data)
    signature = base64.b64encode(checkpoint.signature).decode()
    signature_ok = verify_signature(checkpoint.signed_data, signature, key)
    matches = body.tree_size == checkpoint.tree_size and body.root_hash.hex() == checkpoint.root_hash
    pinned = "the pinned ledger key" if public_key else "the key the server sent (pin it with --public-key)"
    return signature_ok and matches, f"checkpoint signature checked with {pinned}"
