"""Ledger: the head row, and triggers that make the ledger tables append-only in the database itself.

UPDATE, DELETE (and on PostgreSQL TRUNCATE) of audit_events, merkle_nodes and checkpoints are refused
by the database, whoever asks: the application's own code cannot quietly edit the record either.
(A superuser can still disable triggers; that is what the signed checkpoints and `audit verify` catch.)
Prompt texts live in prompt_texts, outside these tables, so retention can still delete them.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY_TABLES = ("audit_events", "merkle_nodes", "checkpoints")
EMPTY_ROOT = hashlib.sha256(b"").hexdigest()  # RFC 6962: the hash of an empty tree

PG_FUNCTION = """
CREATE FUNCTION veriframe_refuse_ledger_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$
"""


def upgrade() -> None:
    head = sa.table(
        "ledger_head",
        sa.column("id", sa.Integer),
        sa.column("tree_size", sa.BigInteger),
        sa.column("root_hash", sa.String),
        sa.column("frontier", sa.JSON),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.bulk_insert(head, [{"id": 1, "tree_size": 0, "root_hash": EMPTY_ROOT, "frontier": [],
                           "updated_at": datetime.now(timezone.utc)}])

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_FUNCTION)
        for table in APPEND_ONLY_TABLES:
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION veriframe_refuse_ledger_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION veriframe_refuse_ledger_change()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for operation in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, 'the audit ledger is append-only: {operation} on {table} "
                    "refused'); END"
                )
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(f"no append-only triggers for the {dialect} dialect")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in APPEND_ONLY_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        op.execute("DROP FUNCTION IF EXISTS veriframe_refuse_ledger_change()")
    elif dialect == "sqlite":
        for table in APPEND_ONLY_TABLES:
            for operation in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{operation}")
    op.execute("DELETE FROM ledger_head")
