"""Jobs recorded before migration 0007 (a plain prompt SHA-256 and a plain request fingerprint) are
converted to keyed commitments, on SQLite and PostgreSQL: rows are made the old way, on the 0005
schema, with the statements the old code ran; then `veriframe db convert-prompt-hashes` rewrites them.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from veriframe.provenance.prompt_commitment import KEY_FILE, PromptKey, commit_digest
from veriframe.service.db import Job, make_engine, session_factory, upgrade
from veriframe.service.flow import commitments as C
from veriframe.service.flow.types import FINGERPRINT, LEGACY_FINGERPRINT

OLD = "0006_checkpoint_cosignatures"
_OLD_JOBS = sa.table(
    "jobs", *(sa.column(name) for name in (
        "id", "tenant", "state", "mode", "prompt_sha256", "progress_step", "progress_total",
        "cancel_requested", "attempts", "created_at", "updated_at")),
    sa.column("params", sa.JSON),
)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _old_rows(url: str, count: int) -> dict[str, tuple[str, str]]:
    """`count` jobs as the code before 0007 wrote them; job id -> (prompt SHA-256, request SHA-256)."""
    upgrade(url, OLD)
    now = datetime.now(timezone.utc)
    made = {f"old-{i:03d}": (_sha(f"prompt {i}"), _sha(f"request {i}")) for i in range(count)}
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(_OLD_JOBS.insert(), [
            {"id": job_id, "tenant": "t1", "state": "succeeded", "mode": "t2v", "prompt_sha256": prompt,
             "params": {"seed": 1, LEGACY_FINGERPRINT: request}, "progress_step": 0, "progress_total": 0,
             "cancel_requested": False, "attempts": 1, "created_at": now, "updated_at": now}
            for job_id, (prompt, request) in made.items()
        ])
    engine.dispose()
    upgrade(url)
    return made


def _convert(url: str, keys: Path, *more: str) -> Any:
    from veriframe.service.cli.db import app

    arguments = ["convert-prompt-hashes", "--database", url, "--keys-dir", str(keys), *more]
    return CliRunner().invoke(app, arguments)


def _rows(url: str) -> dict[str, Job]:
    with session_factory(url)() as s:
        return {job.id: job for job in s.scalars(sa.select(Job))}


def _key_dir(tmp_path: Path) -> tuple[Path, PromptKey]:
    from veriframe.provenance.prompt_commitment import create_prompt_key

    return tmp_path, create_prompt_key(tmp_path / KEY_FILE)


def _assert_converted(job: Job, prompt_sha: str, request_sha: str, key: PromptKey) -> None:
    assert job.prompt_sha256 is None and LEGACY_FINGERPRINT not in job.params
    assert (job.prompt_commitment, job.prompt_key_id) == (commit_digest(prompt_sha, key)["value"], key.key_id)
    assert job.params[FINGERPRINT] == commit_digest(request_sha, key) and job.params["seed"] == 1
    text = json.dumps({c.name: getattr(job, c.name) for c in Job.__table__.columns}, default=str)
    assert prompt_sha not in text and request_sha not in text


def test_old_rows_are_converted_in_batches_and_a_second_run_changes_nothing(db_url, tmp_path) -> None:
    made = _old_rows(db_url, 7)
    keys, key = _key_dir(tmp_path)
    with session_factory(db_url)() as s:
        assert C.unconverted_count(s) == 7
    result = _convert(db_url, keys, "--batch-size", "3")
    assert result.exit_code == 0, result.output
    assert "7 jobs converted" in result.output and "3 jobs converted" in result.output  # three batches
    rows = _rows(db_url)
    for job_id, (prompt, request) in made.items():
        _assert_converted(rows[job_id], prompt, request, key)
    with session_factory(db_url)() as s:
        assert C.unconverted_count(s) == 0
    again = _convert(db_url, keys)
    assert again.exit_code == 0 and ": 0 jobs converted" in again.output
    assert {j: (r.prompt_commitment, r.params) for j, r in _rows(db_url).items()} == \
        {j: (r.prompt_commitment, r.params) for j, r in rows.items()}


def test_a_crash_mid_batch_leaves_every_row_whole_and_a_rerun_finishes(db_url, tmp_path, monkeypatch) -> None:
    made = _old_rows(db_url, 5)
    _, key = _key_dir(tmp_path)
    sessions = session_factory(db_url)
    real = C.convert_row
    seen: list[str] = []

    def dies_on_the_fourth(job: Job, k: PromptKey) -> None:
        if len(seen) == 3:
            raise KeyboardInterrupt  # the process is killed between two rows of a batch
        seen.append(job.id)
        real(job, k)

    monkeypatch.setattr(C, "convert_row", dies_on_the_fourth)
    with pytest.raises(KeyboardInterrupt):
        C.convert_prompt_hashes(sessions, key, batch=2)
    rows = _rows(db_url)
    converted = {j for j, r in rows.items() if r.prompt_sha256 is None}
    assert converted == set(seen[:2])  # the first batch committed, the second rolled back whole
    for job_id, job in rows.items():
        if job_id not in converted:  # untouched: still exactly the old row
            assert job.prompt_commitment is None and job.params[LEGACY_FINGERPRINT] == made[job_id][1]
            assert job.prompt_sha256 == made[job_id][0] and FINGERPRINT not in job.params
    monkeypatch.setattr(C, "convert_row", real)
    assert C.convert_prompt_hashes(sessions, key, batch=2) == 3
    for job_id, job in _rows(db_url).items():
        _assert_converted(job, *made[job_id], key)


def test_a_stale_write_of_old_params_is_found_again(db_url, tmp_path) -> None:
    # A worker that loaded a job before the conversion writes its params back whole (flow.execute
    # does `{**job.params, "resolved": ...}`): the plain fingerprint returns, and must go again.
    made = _old_rows(db_url, 1)
    _, key = _key_dir(tmp_path)
    sessions = session_factory(db_url)
    with sessions() as s:
        stale = dict(s.get(Job, "old-000").params)
    assert C.convert_prompt_hashes(sessions, key) == 1
    with sessions.begin() as s:
        s.execute(sa.update(Job).where(Job.id == "old-000").values(params={**stale, "resolved": {"x": 1}}))
    with sessions() as s:
        assert C.unconverted_count(s) == 1
    assert C.convert_prompt_hashes(sessions, key) == 1
    job = _rows(db_url)["old-000"]
    _assert_converted(job, *made["old-000"], key)
    assert job.params["resolved"] == {"x": 1}


def test_a_malformed_old_digest_stops_naming_the_job_and_its_batch_unwritten(sqlite_url, tmp_path) -> None:
    _old_rows(sqlite_url, 2)
    keys, _ = _key_dir(tmp_path)
    with session_factory(sqlite_url).begin() as s:
        s.execute(sa.update(Job).where(Job.id == "old-001").values(prompt_sha256="not hex"))
    result = _convert(sqlite_url, keys)
    assert result.exit_code == 1 and "job old-001" in result.output, result.output
    assert "nothing of its batch" in result.output
    assert all(job.prompt_commitment is None for job in _rows(sqlite_url).values())


def test_the_command_refuses_a_missing_key_and_an_unmigrated_database(sqlite_url, tmp_path) -> None:
    empty = tmp_path / "no-keys"
    empty.mkdir()
    result = _convert(sqlite_url, empty)
    assert result.exit_code == 2 and "prompt-commitment.key" in result.output and "keys_dir" in result.output
    assert not (empty / KEY_FILE).exists()  # never created here: the server's key is the one to use
    upgrade(sqlite_url, OLD)
    keys, _ = _key_dir(tmp_path)
    result = _convert(sqlite_url, keys)
    assert result.exit_code == 2 and "veriframe db upgrade" in result.output


def test_downgrade_below_0007_is_refused_once_a_row_holds_only_its_commitment(db_url, tmp_path) -> None:
    from veriframe.service.db import current, downgrade

    _old_rows(db_url, 1)
    downgrade(db_url, OLD)  # nothing converted yet: the old schema takes the rows back
    upgrade(db_url)
    _, key = _key_dir(tmp_path)
    C.convert_prompt_hashes(session_factory(db_url), key)
    with pytest.raises(RuntimeError, match="restore a backup"):
        downgrade(db_url, OLD)
    assert current(db_url) == "0007_prompt_commitments"


def test_the_server_start_names_the_command_while_old_rows_remain(sqlite_url, tmp_path, caplog) -> None:
    from veriframe.service.server.app import _warn_of_plain_prompt_hashes
    from veriframe.service.settings import Settings

    _old_rows(sqlite_url, 1)
    keys, key = _key_dir(tmp_path)
    settings = Settings(database_url=sqlite_url, keys_dir=keys)
    _warn_of_plain_prompt_hashes(session_factory(sqlite_url), settings)
    assert "veriframe db convert-prompt-hashes" in caplog.text and str(keys) in caplog.text
    caplog.clear()
    C.convert_prompt_hashes(session_factory(sqlite_url), key)
    _warn_of_plain_prompt_hashes(session_factory(sqlite_url), settings)
    assert "convert-prompt-hashes" not in caplog.text
