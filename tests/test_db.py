"""The database layer on SQLite and PostgreSQL: migrations, append-only triggers, outages, models."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from typer.testing import CliRunner

from veriframe.service.db import (
    ApiKey,
    DatabaseUnavailable,
    Job,
    Policy,
    PromptText,
    ReviewItem,
    current,
    downgrade,
    head,
    make_engine,
    session_factory,
    upgrade,
)
from veriframe.service.ledger import Ledger

TABLES = {"api_keys", "jobs", "prompt_texts", "policies", "review_items", "audit_events", "merkle_nodes",
          "ledger_head", "checkpoints", "webhook_deliveries", "webhook_cursor", "checkpoint_cosignatures"}


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_up_and_down_from_any_directory(db_url: str, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the scripts are found from the installed package, not the CWD
    assert current(db_url) is None
    upgrade(db_url)
    assert current(db_url) == head() == "0007_prompt_commitments"
    assert _tables(db_url) == TABLES
    downgrade(db_url, "0002")
    assert current(db_url) == "0002"
    upgrade(db_url)
    downgrade(db_url, "0001")
    assert current(db_url) == "0001"
    upgrade(db_url)
    downgrade(db_url, "base")
    assert current(db_url) is None
    assert _tables(db_url) == set()
    upgrade(db_url)
    assert Ledger(session_factory(db_url)).head().tree_size == 0


def test_ledger_tables_refuse_update_and_delete(migrated_db_url: str, p256_key) -> None:
    ledger = Ledger(session_factory(migrated_db_url), p256_key)
    ledger.append("submitted", {"n": 1}, actor="key:a", tenant="t1")
    ledger.append("submitted", {"n": 2}, actor="key:a", tenant="t1")
    ledger.checkpoint()
    engine = make_engine(migrated_db_url)
    statements = [
        "UPDATE audit_events SET actor = 'someone else' WHERE seq = 0",
        "DELETE FROM audit_events WHERE seq = 1",
        "UPDATE checkpoints SET root_hash = 'x'",
        "DELETE FROM checkpoints",
        "DELETE FROM merkle_nodes",
    ]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE audit_events")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))
    engine.dispose()
    assert ledger.verify().ok
    assert ledger.count() == 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("url", [
    pytest.param("postgresql+psycopg://postgres@127.0.0.1:{port}/test", id="postgres-dead-port"),
    pytest.param("sqlite:////nonexistent-dir/veriframe.db", id="sqlite-unopenable"),
])
def test_outage_is_database_unavailable(url: str) -> None:
    url = url.format(port=_free_port())
    with pytest.raises(DatabaseUnavailable, match="unavailable"):
        upgrade(url)
    ledger = Ledger(session_factory(url))
    with pytest.raises(DatabaseUnavailable, match="unavailable"):
        ledger.append("submitted", {}, actor="key:a", tenant="t1")
    with pytest.raises(DatabaseUnavailable):
        ledger.verify()


def test_models_and_constraints(migrated_db_url: str) -> None:
    sessions = session_factory(migrated_db_url)
    now = datetime.now(timezone.utc)
    with sessions.begin() as s:
        key = ApiKey(prefix="abc123", secret_hash="argon-or-sha", role="client", tenant="t1", name="ci")
        s.add(key)
        s.flush()
        job = Job(tenant="t1", owner_key_id=key.id, params={"steps": 4}, prompt_commitment="0" * 64,
                  idempotency_key="req-1")
        s.add(job)
        s.flush()
        s.add(PromptText(job_id=job.id, text="a cat", purge_after=now + timedelta(days=30)))
        s.add(ReviewItem(job_id=job.id, categories=["violence"], scores={"violence": 0.7},
                         expires_at=now + timedelta(hours=1)))
        s.add(Policy(version=1, document={"version": 1}, created_by="admin"))
        job_id = job.id
    with sessions() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.state == "queued" and job.params == {"steps": 4} and job.attempts == 0
        assert s.scalar(select(ReviewItem.state).where(ReviewItem.job_id == job_id)) == "pending"
    # Idempotency keys are unique per tenant, not globally.
    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.add(Job(tenant="t1", params={}, prompt_commitment="1" * 64, idempotency_key="req-1"))
    with sessions.begin() as s:
        s.add(Job(tenant="t2", params={}, prompt_commitment="1" * 64, idempotency_key="req-1"))
    with pytest.raises(IntegrityError), sessions.begin() as s:
        s.add(ApiKey(prefix="zzz", secret_hash="h", role="superuser", tenant="t1"))
    # Deleting a job takes its prompt text and review item with it (retention of the ledger is separate).
    with sessions.begin() as s:
        s.delete(s.get(Job, job_id))
    with sessions() as s:
        assert s.get(PromptText, job_id) is None
        assert s.scalar(select(ReviewItem).where(ReviewItem.job_id == job_id)) is None


def test_db_cli(sqlite_url: str) -> None:
    from veriframe.service.cli.db import app

    runner = CliRunner()
    result = runner.invoke(app, ["current", "--database", sqlite_url])
    assert result.exit_code == 0 and "empty" in result.output
    result = runner.invoke(app, ["upgrade", "--database", sqlite_url])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["current", "--database", sqlite_url])
    assert "0007_prompt_commitments, up to date" in result.output
    result = runner.invoke(app, ["downgrade", "--database", sqlite_url, "--revision", "base"])
    assert result.exit_code == 0 and current(sqlite_url) is None
    result = runner.invoke(app, ["upgrade", "--database", f"postgresql://postgres@127.0.0.1:{_free_port()}/x"])
    assert result.exit_code == 2 and "unavailable" in result.output
