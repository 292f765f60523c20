"""Checking what a log server sends, as a Certificate Transparency client does: never its "verified".

An inclusion proof is re-hashed here up to the root, and the root must be the one in a checkpoint
signed by the log key (pinned by the caller), optionally cosigned by enough trusted witnesses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from veriframe.provenance.transparency import merkle
from veriframe.provenance.transparency.checkpoint import SignedCheckpoint, open_checkpoint
from veriframe.provenance.transparency.note import ECDSAVerifier, NoteError, Verifier


@dataclass(frozen=True)
class ProofCheck:
    path_ok: bool
    checkpoint_ok: bool
    how: str
    checkpoint: SignedCheckpoint | None = None

    @property
    def ok(self) -> bool:
        return self.path_ok and self.checkpoint_ok


def check_inclusion(
    *,
    index: int,
    tree_size: int,
    leaf_hash: bytes,
    path: Sequence[bytes],
    root_hash: bytes,
    note: str | None,
    log: ECDSAVerifier,
    pinned: bool,
    witnesses: list[Verifier] | None = None,
    quorum: int = 0,
) -> ProofCheck:
    """Does `path` lead `leaf_hash` to `root_hash`, and is that root in a checkpoint `log` signed?"""
    path_ok = merkle.verify_inclusion(index, tree_size, leaf_hash, list(path), root_hash)
    if not note:
        return ProofCheck(path_ok, False, "the server sent no signed checkpoint: nothing proves its root")
    key = "the pinned ledger key" if pinned else "the key the server sent (pin it with --ledger-key)"
    try:
        signed = open_checkpoint(note, log, witnesses, quorum)
    except NoteError as error:
        return ProofCheck(path_ok, False, f"checkpoint not verified with {key}: {error}")
    matches = (signed.checkpoint.tree_size, signed.checkpoint.root_hash) == (tree_size, root_hash)
    how = f"checkpoint signature checked with {key}"
    if len(signed.verified_by) > 1:
        how += f", cosigned by {', '.join(signed.verified_by[1:])}"
    if not matches:
        how += "; but the proof is for another tree than the checkpoint's"
    return ProofCheck(path_ok, matches, how, signed)
