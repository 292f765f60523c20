"""Transparency v2: versioned leaves (RFC 8785), C2SP checkpoint notes, the head's signed note.

- `audit_events.leaf_version`: the leaf format each event was hashed with. Existing rows are v1
  (Python sorted-key JSON) and keep verifying as such; new events are v2 (RFC 8785 canonical JSON).
- `ledger_head.checkpoint_note`: the C2SP signed note over the head, written in the same transaction
  as every append (NULL on a ledger that has not been appended to since this migration).
- `checkpoints.note`: the full signed note of a stored checkpoint (NULL for v1 checkpoints, whose
  `body` and `signature` columns keep their old meaning).

Revision ID: 0003_transparency
Revises: 0002
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_transparency"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "audit_events", sa.Column("leaf_version", sa.SmallInteger(), nullable=False, server_default="1")
    )
    op.add_column("ledger_head", sa.Column("checkpoint_note", sa.Text(), nullable=True))
    op.add_column("checkpoints", sa.Column("note", sa.Text(), nullable=True))


def downgrade() -> None:
    newer = (
        op.get_bind().execute(sa.text("SELECT count(*) FROM audit_events WHERE leaf_version <> 1")).scalar()
    )
    if newer:
        raise RuntimeError(
            f"cannot downgrade below 0003: {newer} event(s) use the v2 leaf format, which "
            "the older code cannot verify"
        )
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35): a batch copy of the table would lose its
    # append-only triggers.
    op.drop_column("checkpoints", "note")
    op.drop_column("ledger_head", "checkpoint_note")
    op.drop_column("audit_events", "leaf_version")
