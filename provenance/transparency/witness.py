"""A witness: cosigns a log's checkpoints only while the log keeps growing consistently.

It keeps, outside the log operator's reach, the largest checkpoint it has cosigned per log. Shown a
new signed checkpoint and a way to get consistency proofs, it checks the log's signature, checks the
new tree extends the one it cosigned (a rollback or a fork raises ConsistencyError, and the witness
does not sign), stores it and returns the note with its cosignature (c2sp.org/tlog-cosignature) added.
A fork signed with the log's real key is caught all the same: the key proves who, not what came before.
"""

from __future__ import annotations

import time

from veriframe.provenance.transparency.checkpoint import SignedCheckpoint, open_checkpoint
from veriframe.provenance.transparency.cosignature import Cosigner
from veriframe.provenance.transparency.monitor import CheckpointStore, ProofSource, advance
from veriframe.provenance.transparency.note import ECDSAVerifier, Note


class Witness:
    def __init__(self, cosigner: Cosigner, log: ECDSAVerifier, state: CheckpointStore) -> None:
        self.cosigner, self.log, self.state = cosigner, log, state

    def _open(self, note_text: str | bytes) -> SignedCheckpoint:
        return open_checkpoint(note_text, self.log)

    def cosign(self, note_text: str | bytes, proof_source: ProofSource, now: int | None = None) -> Note:
        """The checkpoint note with this witness's cosignature, after the consistency check."""
        new = self._open(note_text)
        # What is stored is what was cosigned: the note with the cosignature on it.
        timestamp = int(time.time()) if now is None else now
        cosigned = new.note.with_signature(self.cosigner.cosign(new.note.text, timestamp))
        advance(
            self.state, SignedCheckpoint(new.checkpoint, cosigned, new.verified_by), proof_source, self._open
        )
        return cosigned
