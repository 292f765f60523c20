"""The signer: signs tree heads as C2SP checkpoints with the ledger key (docs/ledger.md).

The log calls `sign_head` inside every append's transaction, so the head row always carries a signed
note over exactly the tree it describes. `store_checkpoint` keeps a copy of the head's note in the
`checkpoints` table: the history a periodic job (the worker) or an operator publishes.
"""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select
from sqlalchemy.orm import Session

from veriframe.provenance.transparency.checkpoint import Checkpoint as CheckpointBody
from veriframe.provenance.transparency.checkpoint import log_verifier, origin_for, sign_checkpoint
from veriframe.provenance.transparency.note import ECDSAVerifier, load_private_key, parse_note, spki_sha256
from veriframe.service.db.models import Checkpoint, LedgerHead


class Signer:
    """`private_key`: the P-256 ledger key (object, PEM bytes or a path such as ledger-key.pem)."""

    def __init__(self, private_key: ec.EllipticCurvePrivateKey | str | Path | bytes) -> None:
        self.private_key = load_private_key(private_key)
        self.public_key = self.private_key.public_key()
        self.origin = origin_for(self.public_key)
        self.key_id = spki_sha256(self.public_key).hex()  # full hash in the rows; the note uses [:4]

    @property
    def verifier(self) -> ECDSAVerifier:
        return log_verifier(self.public_key, self.origin)

    def note_for(self, tree_size: int, root_hash_hex: str) -> str:
        body = CheckpointBody(self.origin, tree_size, bytes.fromhex(root_hash_hex))
        return sign_checkpoint(body, self.private_key).encode()

    def sign_head(self, head: LedgerHead) -> None:
        """Put a signed note over the head's size and root on the head row (the caller's transaction)."""
        head.checkpoint_note = self.note_for(head.tree_size, head.root_hash)

    def head_is_signed(self, head: LedgerHead) -> bool:
        expected = CheckpointBody(self.origin, head.tree_size, bytes.fromhex(head.root_hash)).body()
        return bool(head.checkpoint_note) and head.checkpoint_note.startswith(expected + "\n")

    def store_checkpoint(self, session: Session, head: LedgerHead) -> Checkpoint:
        """The head's signed note as a `checkpoints` row (the newest one, if it already is)."""
        if not self.head_is_signed(head):
            self.sign_head(head)
        latest = session.scalars(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)).first()
        if latest is not None and latest.note == head.checkpoint_note:
            return latest
        row = checkpoint_row(head.checkpoint_note, self.key_id, head.tree_size, head.root_hash)
        session.add(row)
        session.flush()
        return row


def checkpoint_row(
    note: str, key_id: str, tree_size: int, root_hash: str, moment: datetime | None = None
) -> Checkpoint:
    """A `Checkpoint` row for a signed note (`body` = the note text, `signature` = the log's, base64)."""
    parsed = parse_note(note)
    return Checkpoint(
        tree_size=tree_size,
        root_hash=root_hash,
        timestamp=moment or datetime.now(timezone.utc),
        key_id=key_id,
        body=parsed.text,
        signature=base64.b64encode(parsed.signatures[0].signature).decode(),
        note=note,
    )
