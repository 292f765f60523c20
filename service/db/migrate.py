"""Alembic, driven from Python: the only way a Veriframe schema is created or changed.

The migration scripts ship inside the installed package (`migrations/`), so the script location is
found from that package's file, never from the current directory.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from veriframe.service.db.engine import make_engine, normalise_url, redact, unavailable_as_error


def alembic_config(url: str) -> Config:
    """An Alembic config for `url` whose script location is the installed `migrations` package."""

    from veriframe import migrations

    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).resolve().parent))
    # ConfigParser interpolation would choke on '%' in URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    config.attributes["database_url"] = normalise_url(url)
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` up to `revision` (creates the schema on an empty database)."""
    with unavailable_as_error(f"database {redact(url)}"):
        command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at `url` down to `revision` ("base" removes every Veriframe table)."""
    with unavailable_as_error(f"database {redact(url)}"):
        command.downgrade(alembic_config(url), revision)


def current(url: str) -> str | None:
    """The revision the database is at, or None for a database no migration has touched."""
    engine = make_engine(url)
    try:
        with unavailable_as_error(f"database {redact(url)}"), engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head() -> str:
    """The newest revision the code knows."""
    head_revision = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()
    assert head_revision is not None, "the migrations package has no revisions"
    return head_revision
