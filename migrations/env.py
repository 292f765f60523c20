"""Alembic environment: runs the migrations on the engine `veriframe.service.db.make_engine` builds."""

from __future__ import annotations

import os

from alembic import context

from veriframe.service.db.engine import make_engine
from veriframe.service.db.models import Base

config = context.config
target_metadata = Base.metadata


def database_url() -> str:
    url = (
        config.attributes.get("database_url")
        or context.get_x_argument(as_dictionary=True).get("url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("VERIFRAME_DATABASE_URL")
    )
    if not url:
        raise SystemExit("no database URL: pass -x url=... or set VERIFRAME_DATABASE_URL")
    return url


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(database_url())
    try:
        with engine.connect() as connection:
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                # SQLite cannot ALTER most things in place; batch mode rebuilds tables when needed.
                render_as_batch=connection.dialect.name == "sqlite",
                transaction_per_migration=True,
            )
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
