"""Engines, sessions and the one error callers see when the database is out of reach."""

from __future__ import annotations

import contextlib
import functools
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, unquote

from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
SQLITE_BUSY_TIMEOUT_MS = 30_000
POSTGRES_CONNECT_TIMEOUT_S = 5

_SQLITE_NOT_OUTAGES = ("no such ", "syntax error", "near ", "table ", "index ", "duplicate column")

F = TypeVar("F", bound=Callable[..., Any])


class DatabaseUnavailable(RuntimeError):
    """The database cannot be reached or did not answer in time. The action did not happen."""


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    return make_url(url).render_as_string(hide_password=True)


def normalise_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean psycopg 3 here (SQLAlchemy's default would be psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names (`sqlite:///PATH` or `sqlite:///file:PATH?...&uri=true`); None for
    other databases and in-memory SQLite."""
    parsed = make_url(normalise_url(url))
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or database in (None, "", ":memory:"):
        return None
    if database.startswith("file:"):  # an SQLite URI filename
        database = unquote(database[len("file:"):])
        if database in ("", ":memory:") or parsed.query.get("mode") == "memory":
            return None
    return Path(database)


def read_only_url(url: str) -> str:
    """`url` opened for reading only. For a SQLite file, a read-only URI: a mistyped path is an error
    (FileNotFoundError) instead of a new, empty database. Other databases: `url` unchanged."""
    path = sqlite_file(url)
    if path is None:
        return url
    if not path.is_file():
        raise FileNotFoundError(f"no such database: {path}")
    parsed = make_url(normalise_url(url))
    read_only = parsed.set(database="file:" + quote(str(path.resolve())), query={"mode": "ro", "uri": "true"})
    return read_only.render_as_string(hide_password=False)


def private_sqlite_file(url: str) -> None:
    """Create a new SQLite database file readable by its owner only (0600): it holds prompts, keys'
    hashes and the ledger. SQLite gives its -wal and -shm files the database file's mode. An existing
    file that others can read is reported, not changed (the operator decides: `chmod 600 FILE`)."""
    path = sqlite_file(url)
    if path is None or make_url(normalise_url(url)).query.get("mode") == "ro":
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            log.warning("the database file %s is readable by other users: run `chmod 600 %s`", path, path)
    except OSError:
        return  # e.g. a missing directory: SQLite reports that with its own, clearer error


def make_engine(url: str, *, echo: bool = False, sqlite_immediate: bool = True) -> Engine:
    """An engine for `url` (SQLite file or PostgreSQL via psycopg 3), set up for concurrent use.

    SQLite: WAL (readers do not block the writer), a busy timeout, foreign keys on, and by default
    every transaction starts with `BEGIN IMMEDIATE`. SQLite has one writer at a time; a default
    (deferred) transaction that reads and then writes fails with "database is locked" instead of
    waiting when another writer got there first. IMMEDIATE makes it wait (up to the busy timeout),
    which is what a read-then-write step such as a ledger append or a job claim needs.
    """
    url = normalise_url(url)
    parsed = make_url(url)
    private_sqlite_file(url)
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    if parsed.get_backend_name() == "postgresql":
        kwargs["connect_args"] = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_S}
    engine = create_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        _configure_sqlite(engine, file_backed=parsed.database not in (None, "", ":memory:"),
                          immediate=sqlite_immediate)
    return engine


def _configure_sqlite(engine: Engine, *, file_backed: bool, immediate: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the sqlite3 module; SQLAlchemy's "begin" hook emits it.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            if file_backed:
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode up to the last commit
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE" if immediate else "DEFERRED")
        if mode not in ("DEFERRED", "IMMEDIATE", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be DEFERRED, IMMEDIATE or EXCLUSIVE, not {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")


def reading(session: Session) -> Session:
    """Start `session`'s transaction as a pure reader: on SQLite a deferred BEGIN that takes no write lock
    (a consistent WAL snapshot), so long reads do not hold up writers. Call before the first query."""
    session.connection(execution_options={"sqlite_begin": "DEFERRED"})
    return session


def session_factory(engine_or_url: Engine | str) -> sessionmaker[Session]:
    """A `sessionmaker` bound to an engine (or a new one for a URL); objects stay usable after commit."""
    engine = make_engine(engine_or_url) if isinstance(engine_or_url, str) else engine_or_url
    return sessionmaker(bind=engine, expire_on_commit=False)


def is_unavailable(error: BaseException) -> bool:
    """True for errors that mean "the database is down or busy", not "the statement is wrong"."""
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, exc.OperationalError):
        # sqlite3 reports schema mistakes ("no such table") as OperationalError too: those are bugs
        # or a missing migration, not an outage.
        message = str(error.orig or "").lower()
        return not message.startswith(_SQLITE_NOT_OUTAGES)
    if isinstance(error, (exc.InterfaceError, exc.TimeoutError)):
        return True
    return isinstance(error, exc.DisconnectionError)


@contextlib.contextmanager
def unavailable_as_error(what: str = "the database") -> Iterator[None]:
    """Turn outages inside the block into `DatabaseUnavailable`: one clear message, not a driver trace."""
    try:
        yield
    except DatabaseUnavailable:
        raise
    except exc.SQLAlchemyError as error:
        if not is_unavailable(error):
            raise
        detail = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise DatabaseUnavailable(f"{what} is unavailable: {detail}") from error


def translate_outages(func: F) -> F:
    """Decorator form of `unavailable_as_error`."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with unavailable_as_error():
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
