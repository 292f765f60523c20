"""Witness cosignatures of the ledger's checkpoints, kept by the server to serve with them.

One row per (checkpoint, witness key ID): the cosignature line exactly as the witness signed it
(c2sp.org/tlog-cosignature). Append-only like the ledger tables of 0002: a cosignature is evidence
about the log, so the database refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE) of it too.

Revision ID: 0006_checkpoint_cosignatures
Revises: 0005_output_size
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_checkpoint_cosignatures"
down_revision: str | None = "0005_output_size"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "checkpoint_cosignatures"


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("checkpoint_id", sa.Integer(), nullable=False),
        sa.Column("witness_name", sa.String(length=255), nullable=False),
        sa.Column("key_id", sa.String(length=8), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["checkpoint_id"],
            ["checkpoints.id"],
            name=op.f("fk_checkpoint_cosignatures_checkpoint_id_checkpoints"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkpoint_cosignatures")),
        sa.UniqueConstraint("checkpoint_id", "key_id", name=op.f("uq_checkpoint_cosignatures_checkpoint_id")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":  # the function is migration 0002's
        op.execute(f"CREATE TRIGGER {TABLE}_append_only BEFORE UPDATE OR DELETE ON {TABLE} "
                   "FOR EACH ROW EXECUTE FUNCTION veriframe_refuse_ledger_change()")
        op.execute(f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION veriframe_refuse_ledger_change()")
    elif dialect == "sqlite":
        for operation in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_no_{operation.lower()} BEFORE {operation} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only: {operation} on {TABLE} "
                "refused'); END"
            )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"no append-only triggers for the {dialect} dialect")


def downgrade() -> None:
    # Dropping the table drops its triggers with it, on both dialects.
    op.drop_table(TABLE)
