"""Jobs keep a keyed commitment to the prompt instead of its unsalted SHA-256.

`jobs.prompt_commitment` (HMAC-SHA256 with the deployment's prompt key over the prompt's SHA-256,
the value the job's signed manifest carries) and `jobs.prompt_key_id` (which key made it). The key
lives in the keys directory, not in the database, so this migration cannot compute commitments:
`prompt_sha256` becomes nullable, old rows keep it until `veriframe db convert-prompt-hashes`
rewrites them (docs/ledger.md).

Revision ID: 0007_prompt_commitments
Revises: 0006_checkpoint_cosignatures
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_prompt_commitments"
down_revision: str | None = "0006_checkpoint_cosignatures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("prompt_commitment", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("prompt_key_id", sa.String(length=16), nullable=True))
        batch.alter_column("prompt_sha256", existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    # A converted row has no SHA-256 any more and the HMAC cannot be undone: refuse rather than
    # leave NOT NULL rows without a value (or invent one).
    query = sa.text("SELECT COUNT(*) FROM jobs WHERE prompt_sha256 IS NULL")
    converted = op.get_bind().execute(query).scalar()
    if converted:
        raise RuntimeError(
            f"{converted} jobs hold only a prompt commitment (no SHA-256 to restore): "
            "downgrading below 0007_prompt_commitments would lose them; restore a backup instead"
        )
    with op.batch_alter_table("jobs") as batch:
        batch.alter_column("prompt_sha256", existing_type=sa.String(length=64), nullable=False)
        batch.drop_column("prompt_key_id")
        batch.drop_column("prompt_commitment")
