"""The audit ledger on SQLite and PostgreSQL: appends, proofs, checkpoints, tamper detection,
concurrency, fail-closed transactions and retention."""

from __future__ import annotations

import base64
import contextlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Connection, select, text
from typer.testing import CliRunner

from veriframe.provenance.transparency import merkle
from veriframe.provenance.transparency.checkpoint import Checkpoint as CheckpointBody
from veriframe.provenance.transparency.checkpoint import log_verifier, open_checkpoint
from veriframe.provenance.transparency.leaf import event_document, leaf_data
from veriframe.provenance.transparency.note import NoteError
from veriframe.service.db import AuditEvent, Job, PromptText, make_engine, session_factory
from veriframe.service.ledger import EventInput, Ledger, LedgerError, events

REPO = Path(__file__).resolve().parents[1]


def _ledger(url: str, key: ec.EllipticCurvePrivateKey | None = None) -> Ledger:
    return Ledger(session_factory(url), key)


def _fill(ledger: Ledger, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        ledger.append(events.SUBMITTED, {"i": i, "scores": {"violence": 0.125}}, actor=f"key:{i % 3}",
                      tenant=f"t{i % 2}", job_id=f"job-{i}")


def _leaves(url: str) -> list[bytes]:
    with session_factory(url)() as s:
        return [bytes.fromhex(h) for h in s.scalars(select(AuditEvent.leaf_hash).order_by(AuditEvent.seq))]


def test_append_proofs_and_checkpoints(migrated_db_url: str, p256_key) -> None:
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 5)
    first = ledger.checkpoint()
    assert ledger.checkpoint().id == first.id  # nothing new to sign
    seqs = ledger.append_many([EventInput(events.GENERATED, {"n": n}, "worker-1", "t1", "job-x")
                               for n in range(16)])
    assert seqs == list(range(5, 21))
    _fill(ledger, 16, start=21)
    second = ledger.checkpoint()
    assert (first.tree_size, second.tree_size) == (5, 37)

    # Proofs from the stored nodes equal proofs computed from every leaf, and verify.
    reference = merkle.ListTree(_leaves(migrated_db_url))
    assert ledger.head().root_hash == reference.root().hex() == second.root_hash
    for seq in range(37):
        proof = ledger.inclusion_proof(seq)
        assert proof.verify()
        assert proof.path == [h.hex() for h in reference.inclusion_path(seq)]
    for size in (1, 5, 8, 13, 36):
        proof = ledger.inclusion_proof(size - 1, tree_size=size)
        assert proof.verify() and proof.root_hash == reference.root(size).hex()
    for a, b in [(0, 37), (1, 37), (5, 37), (8, 16), (13, 29), (37, 37), (21, 36)]:
        proof = ledger.consistency_proof(a, b)
        assert proof.verify()
        assert proof.path == [h.hex() for h in reference.consistency_proof(a, b)]
    assert not ledger.consistency_proof(5, 37).__class__(5, 37, second.root_hash, first.root_hash,
                                                         ledger.consistency_proof(5, 37).path).verify()
    with pytest.raises(LedgerError):
        ledger.inclusion_proof(37)
    with pytest.raises(LedgerError):
        ledger.consistency_proof(3, 38)

    # An outside verifier needs only the public key PEM and the checkpoint's body and signature.
    public_pem = p256_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                    serialization.PublicFormat.SubjectPublicKeyInfo)
    outside_key = serialization.load_pem_public_key(public_pem)
    outside_key.verify(base64.b64decode(second.signature), second.body.encode(), ec.ECDSA(hashes.SHA256()))
    body = open_checkpoint(second.note, log_verifier(outside_key)).checkpoint
    assert (body.tree_size, body.root_hash.hex()) == (37, second.root_hash)
    assert CheckpointBody.parse(second.body) == body
    assert merkle.verify_inclusion(
        3, 37, bytes.fromhex(ledger.inclusion_proof(3).leaf_hash),
        [bytes.fromhex(h) for h in ledger.inclusion_proof(3).path], body.root_hash)
    assert merkle.verify_consistency(5, 37, bytes.fromhex(first.root_hash), body.root_hash,
                                     [bytes.fromhex(h) for h in ledger.consistency_proof(5, 37).path])
    report = ledger.verify()
    assert report.ok and report.signatures_checked and (report.events, report.checkpoints) == (37, 2)


def test_leaf_is_the_canonical_event(migrated_db_url: str, p256_key) -> None:
    ledger = _ledger(migrated_db_url, p256_key)
    row = ledger.append("screened", {"b": (1, 2), "a": "é", "scores": {"x": 0.1}}, actor="svc", tenant=None)
    stored = ledger.event(row.seq)
    assert stored is not None and stored.payload == {"a": "é", "b": [1, 2], "scores": {"x": 0.1}}
    doc = event_document(seq=0, event_type="screened", time=stored.time, actor="svc", tenant=None,
                         job_id=None, payload=stored.payload)
    assert stored.leaf_version == 2
    assert leaf_data(doc).startswith(b'{"actor":"svc","job_id":null,"payload":{"a":"\xc3\xa9","b":[1,2]')
    assert stored.leaf_hash == merkle.leaf_hash(leaf_data(doc)).hex()
    big = ledger.append("generated", {"seed": 2**63 - 25, "n": [2**53 - 1, -(2**60)]}, actor="svc",
                        tenant=None)
    assert ledger.event(big.seq).payload == {"seed": str(2**63 - 25), "n": [2**53 - 1, str(-(2**60))]}
    for bad in ({1: "x"}, {"x": float("nan")}, {"x": b"bytes"}):
        with pytest.raises((TypeError, ValueError)):
            ledger.append("screened", bad, actor="svc", tenant=None)
    with pytest.raises(ValueError, match="event type"):
        ledger.append("Not A Type", {}, actor="svc", tenant=None)
    assert ledger.head().tree_size == 2 and ledger.verify().ok


def test_fail_closed_event_and_action_commit_together(migrated_db_url: str, p256_key) -> None:
    sessions = session_factory(migrated_db_url)
    ledger = Ledger(sessions, p256_key)
    # The action fails after its record was written: neither stays.
    with pytest.raises(RuntimeError), sessions.begin() as s:
        s.add(Job(id="job-1", tenant="t1", params={}, prompt_commitment="0" * 64))
        assert ledger.append(events.SUBMITTED, {"n": 1}, actor="key:a", tenant="t1", job_id="job-1",
                             session=s).seq == 0
        raise RuntimeError("encoding failed")
    # The record cannot be written: the action does not happen either.
    with pytest.raises(TypeError), sessions.begin() as s:
        s.add(Job(id="job-2", tenant="t1", params={}, prompt_commitment="0" * 64))
        ledger.append(events.SUBMITTED, {"not json": {1, 2}}, actor="key:a", tenant="t1", session=s)
    with sessions() as s:
        assert s.scalars(select(Job.id)).all() == []
    assert ledger.head().tree_size == 0
    with sessions.begin() as s:
        s.add(Job(id="job-3", tenant="t1", params={}, prompt_commitment="0" * 64))
        row = ledger.append(events.SUBMITTED, {}, actor="key:a", tenant="t1", job_id="job-3", session=s)
        assert row.seq == 0
    assert ledger.count() == 1 and ledger.verify().ok


# --- tampering, made directly in the database ----------------------------------------------------

LEDGER_TABLES = ("audit_events", "merkle_nodes", "checkpoints")


@contextlib.contextmanager
def _unlocked(url: str) -> Iterator[Connection]:
    """A connection that can UPDATE and DELETE ledger rows, as an attacker with database access can."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                # The tables' owner (who ran the migrations) may switch triggers off, superuser or not.
                for table in LEDGER_TABLES:
                    connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
                yield connection
                for table in LEDGER_TABLES:
                    connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
            else:  # SQLite cannot switch triggers off: drop them, and put them back afterwards
                query = "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                saved = list(connection.execute(text(query)))
                for name, _ in saved:
                    connection.execute(text(f"DROP TRIGGER {name}"))
                yield connection
                for _, sql in saved:
                    connection.execute(text(sql))
    finally:
        engine.dispose()


def _forged_leaf(seq: int, payload: dict) -> str:
    time = datetime(2026, 1, 1, tzinfo=timezone.utc)
    doc = event_document(seq=seq, event_type="generated", time=time, actor="attacker", tenant="t1",
                         job_id=None, payload=payload)
    return merkle.leaf_hash(leaf_data(doc)).hex()


def _insert_forged(connection: Connection, seq: int) -> None:
    payload = {"forged": True}
    connection.execute(
        text("INSERT INTO audit_events (seq, event_type, time, actor, tenant, job_id, payload, leaf_hash, "
             "leaf_version) VALUES (:seq, 'generated', :time, 'attacker', 't1', NULL, :payload, :leaf, 2)"),
        {"seq": seq, "time": datetime(2026, 1, 1, tzinfo=timezone.utc), "payload": json.dumps(payload),
         "leaf": _forged_leaf(seq, payload)})


def _shift(connection: Connection, first: int, by: int) -> None:
    """Renumber events from `first` on by `by` (through negative values: seq is the primary key)."""
    connection.execute(text("UPDATE audit_events SET seq = -seq - 1000 WHERE seq >= :f"), {"f": first})
    connection.execute(text("UPDATE audit_events SET seq = -seq - 1000 + :by WHERE seq < 0"), {"by": by})


def _edit(c: Connection) -> None:
    c.execute(text("UPDATE audit_events SET actor = 'someone else' WHERE seq = 5"))


def _edit_with_hash(c: Connection) -> None:
    c.execute(text("UPDATE audit_events SET actor = 'attacker', event_type = 'generated', tenant = 't1', "
                   "job_id = NULL, time = :time, payload = :payload, leaf_hash = :leaf WHERE seq = 5"),
              {"time": datetime(2026, 1, 1, tzinfo=timezone.utc), "payload": json.dumps({"forged": True}),
               "leaf": _forged_leaf(5, {"forged": True})})


def _delete(c: Connection) -> None:
    c.execute(text("DELETE FROM audit_events WHERE seq = 5"))


def _delete_last(c: Connection) -> None:
    c.execute(text("DELETE FROM audit_events WHERE seq = 11"))


def _delete_and_renumber(c: Connection) -> None:
    _delete(c)
    _shift(c, 6, -1)


def _insert_at_end(c: Connection) -> None:
    _insert_forged(c, 12)


def _insert_in_middle(c: Connection) -> None:
    _shift(c, 5, +1)
    _insert_forged(c, 5)


def _swap(c: Connection) -> None:
    c.execute(text("UPDATE audit_events SET seq = -1 WHERE seq = 3"))
    c.execute(text("UPDATE audit_events SET seq = 3 WHERE seq = 7"))
    c.execute(text("UPDATE audit_events SET seq = 7 WHERE seq = -1"))


def _forge_checkpoint(c: Connection) -> None:
    c.execute(text("UPDATE checkpoints SET body = REPLACE(body, '\n12\n', '\n11\n'), tree_size = 11 "
                   "WHERE tree_size = 12"))


def _delete_checkpoint(c: Connection) -> None:
    c.execute(text("DELETE FROM checkpoints WHERE tree_size = 8"))


# (name, tamper, expected event-level findings as (kind, first seq, last seq), expected other finding kinds)
TAMPERING = [
    ("edited", _edit, {("edited", 5, 5)}, {"checkpoint", "head"}),
    ("edited-with-leaf-hash", _edit_with_hash, {("edited", 4, 5)}, {"checkpoint", "head"}),
    ("deleted", _delete, {("deleted", 5, 5)}, {"checkpoint", "head"}),
    # The last event: its stored tree nodes now disagree, but only the deleted event may be named.
    ("deleted-last", _delete_last, {("deleted", 11, 11)}, {"checkpoint", "head"}),
    ("deleted-renumbered", _delete_and_renumber, {("deleted", 5, 5), ("reordered", 5, 10)},
     {"checkpoint", "head"}),
    ("inserted-at-end", _insert_at_end, {("inserted", 12, 12)}, set()),
    ("inserted-in-middle", _insert_in_middle, {("inserted", 5, 5), ("reordered", 6, 12)},
     {"checkpoint", "head"}),
    ("reordered", _swap, {("reordered", 3, 3), ("reordered", 7, 7)}, {"checkpoint", "head"}),
    ("checkpoint-forged", _forge_checkpoint, set(), {"checkpoint"}),
    ("checkpoint-deleted", _delete_checkpoint, set(), {"checkpoint"}),
]


@pytest.mark.parametrize(("name", "tamper", "expected", "other"), TAMPERING, ids=[t[0] for t in TAMPERING])
def test_tampering_is_found_and_located(migrated_db_url: str, p256_key, name: str, tamper, expected: set,
                                        other: set) -> None:
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 8)
    ledger.checkpoint()
    _fill(ledger, 4, start=8)
    ledger.checkpoint()
    assert ledger.verify().ok

    with _unlocked(migrated_db_url) as connection:
        tamper(connection)

    report = ledger.verify()
    assert not report.ok
    located = {(f.kind, f.seq, f.last_seq) for f in report.findings if f.seq is not None}
    assert located == expected, [str(f) for f in report.findings]
    assert {f.kind for f in report.findings if f.seq is None} == other, [str(f) for f in report.findings]


def test_deleted_event_named_even_with_its_seq_closed(migrated_db_url: str, p256_key) -> None:
    """Deleting and renumbering leaves a dense table; the committed size still reveals the loss."""
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 12)
    ledger.checkpoint()
    with _unlocked(migrated_db_url) as connection:
        _delete_and_renumber(connection)
        connection.execute(text("UPDATE ledger_head SET tree_size = 11"))
    kinds = {f.kind for f in ledger.verify().findings}
    assert {"deleted", "reordered", "checkpoint"} <= kinds


def test_deleting_the_newest_event_names_only_that_event(migrated_db_url: str, p256_key) -> None:
    """Two events, the second deleted: seq 0 is untouched and must not be reported as edited."""
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 2)
    ledger.checkpoint()
    with _unlocked(migrated_db_url) as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq = 1"))
    findings = ledger.verify().findings
    assert [(f.kind, f.seq, f.last_seq) for f in findings if f.seq is not None] == [("deleted", 1, 1)], [
        str(f) for f in findings]


def test_disabled_triggers_are_reported(migrated_db_url: str, p256_key) -> None:
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 3)
    engine = make_engine(migrated_db_url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only"))
        else:
            connection.execute(text("DROP TRIGGER audit_events_no_delete"))
    engine.dispose()
    findings = ledger.verify().findings
    assert [(f.kind, f.seq) for f in findings] == [("schema", None)] and "audit_events" in findings[0].detail


def test_audit_verify_cli(migrated_db_url: str, p256_key, tmp_path: Path) -> None:
    from veriframe.service.cli.admin import app

    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 6)
    ledger.checkpoint()
    pub = tmp_path / "ledger-pub.pem"
    pub.write_bytes(p256_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
    runner = CliRunner()
    args = ["audit", "verify", "--database", migrated_db_url, "--public-key", str(pub)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "intact" in result.output, result.output
    # --keys DIR reads DIR/ledger-pub.pem; without any key the checkpoint is unchecked: not "intact".
    assert runner.invoke(app, [*args[:4], "--keys", str(tmp_path)]).exit_code == 0
    unkeyed = runner.invoke(app, args[:4])
    assert unkeyed.exit_code == 1 and "intact" not in unkeyed.output, unkeyed.output
    assert "1 checkpoint(s) not checked: pass --public-key/--keys" in unkeyed.output
    unkeyed_json = json.loads(runner.invoke(app, [*args[:4], "--json"]).output)
    assert unkeyed_json["ok"] is False and unkeyed_json["findings"] == []
    assert "not checked" in unkeyed_json["not_checked"]
    assert runner.invoke(app, [*args, "--keys", str(tmp_path)]).exit_code == 2  # one or the other
    other = tmp_path / "other.pem"
    other.write_bytes(ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    result = runner.invoke(app, [*args[:-1], str(other)])
    assert result.exit_code == 1 and "another key" in result.output

    with _unlocked(migrated_db_url) as connection:
        _edit(connection)
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["ok"] is False
    assert {"kind": "edited", "seq": 5, "last_seq": 5} in [
        {k: f[k] for k in ("kind", "seq", "last_seq")} for f in report["findings"]]
    result = runner.invoke(app, [*args[:-2], "--public-key", str(tmp_path / "missing.pem")])
    assert result.exit_code == 2


# --- concurrency ---------------------------------------------------------------------------------

def test_concurrent_threads_make_one_order(migrated_db_url: str, p256_key) -> None:
    errors: list[BaseException] = []

    def writer(worker: int) -> None:
        # A ledger (and engine) per thread: the database lock, not a Python lock, has to order them.
        ledger = _ledger(migrated_db_url, p256_key)
        try:
            for i in range(15):
                ledger.append("generated", {"worker": worker, "i": i}, actor=f"w{worker}", tenant="t")
        except BaseException as error:  # collected and re-raised in the main thread
            errors.append(error)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    _assert_dense_and_complete(migrated_db_url, {f"w{w}": 15 for w in range(4)}, p256_key)


WORKER = """
import sys, time
from veriframe.service.db import session_factory
from veriframe.service.ledger import Ledger
url, name, n, start, key = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ledger = Ledger(session_factory(url), key)
time.sleep(max(0.0, start - time.time()))  # all processes start appending at the same moment
for i in range(n):
    ledger.append("generated", {"worker": name, "i": i}, actor=name, tenant="t")
"""


def test_concurrent_processes_make_one_order(migrated_db_url: str, p256_key, tmp_path: Path) -> None:
    key = tmp_path / "ledger-key.pem"
    key.write_bytes(p256_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    start = str(time.time() + 2.0)
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, migrated_db_url, f"p{p}", "40", start, str(key)],
                              cwd=REPO,
                              stderr=subprocess.PIPE, text=True) for p in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    _assert_dense_and_complete(migrated_db_url, {f"p{p}": 40 for p in range(3)}, p256_key)


def _assert_dense_and_complete(url: str, per_actor: dict[str, int], key: ec.EllipticCurvePrivateKey) -> None:
    with session_factory(url)() as s:
        rows = s.execute(select(AuditEvent.seq, AuditEvent.actor, AuditEvent.payload)
                         .order_by(AuditEvent.seq)).all()
    assert [r.seq for r in rows] == list(range(sum(per_actor.values())))
    for actor, n in per_actor.items():
        assert sorted(r.payload["i"] for r in rows if r.actor == actor) == list(range(n))
    report = _ledger(url, key).verify()
    assert report.ok, [str(f) for f in report.findings]


# --- retention -----------------------------------------------------------------------------------

def test_retention_purge_keeps_the_log_verifiable(migrated_db_url: str, p256_key) -> None:
    sessions = session_factory(migrated_db_url)
    ledger = Ledger(sessions, p256_key)
    now = datetime.now(timezone.utc)
    with sessions.begin() as s:
        for i, days in enumerate((-2, -1, 30)):
            job = Job(id=f"job-{i}", tenant="t1", params={}, prompt_commitment=f"{i}" * 64, state="succeeded")
            s.add(job)
            s.flush()
            s.add(PromptText(job_id=job.id, text=f"prompt {i}", purge_after=now + timedelta(days=days)))
            ledger.append(events.SUBMITTED, events.submitted(
                mode="t2v", params={}, negative_prompt_commitment=None,
                prompt_commitment={"alg": "hmac-sha256", "key_id": "0" * 16, "value": job.prompt_commitment},
                api_key_id=None, idempotency_key=None), actor="key:a", tenant="t1", job_id=job.id, session=s)
    before = ledger.checkpoint()

    assert ledger.purge_prompts(now) == ["job-0", "job-1"]
    assert ledger.purge_prompts(now) == []  # nothing left to purge, nothing recorded
    with sessions() as s:
        assert s.scalars(select(PromptText.job_id)).all() == ["job-2"]
        assert s.get(Job, "job-0").prompt_commitment == "0" * 64
        purge = s.get(AuditEvent, 3)
    assert purge.event_type == events.RETENTION_PURGED and purge.payload["job_ids"] == ["job-0", "job-1"]
    after = ledger.checkpoint()
    assert ledger.consistency_proof(before.tree_size, after.tree_size).verify()
    report = ledger.verify()
    assert report.ok and report.events == 4


def test_signing_key_from_file_and_wrong_curve(migrated_db_url: str, tmp_path: Path, p256_key) -> None:
    pem = tmp_path / "ledger-key.pem"
    pem.write_bytes(p256_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    ledger = _ledger(migrated_db_url, pem)  # type: ignore[arg-type]
    ledger.append("submitted", {}, actor="a", tenant="t")
    assert ledger.checkpoint().tree_size == 1
    with pytest.raises(NoteError, match="P-256"):
        Ledger(session_factory(migrated_db_url), ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(LedgerError, match="signing key"):
        _ledger(migrated_db_url).checkpoint()


def test_audit_verify_a_mistyped_sqlite_path_creates_nothing(tmp_path: Path) -> None:
    from veriframe.service.cli.admin import app

    missing = tmp_path / "typo.db"
    result = CliRunner().invoke(app, ["audit", "verify", "--database", f"sqlite:///{missing}"])
    assert result.exit_code == 2 and "no such database" in result.output, result.output
    assert not missing.exists() and list(tmp_path.iterdir()) == []


def test_audit_verify_opens_sqlite_read_only(sqlite_url: str, p256_key) -> None:
    from veriframe.service.db import upgrade
    from veriframe.service.db.engine import read_only_url

    upgrade(sqlite_url)
    _fill(_ledger(sqlite_url, p256_key), 2)
    engine = make_engine(read_only_url(sqlite_url))
    try:
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM audit_events")).scalar() == 2
            with pytest.raises(Exception, match="readonly"):
                connection.execute(text("CREATE TABLE intruder (x)"))
    finally:
        engine.dispose()
    assert _ledger(sqlite_url, p256_key).verify().ok


def test_audit_verify_without_schema_is_a_usage_error(db_url: str) -> None:
    from veriframe.service.cli.admin import app

    engine = make_engine(db_url)  # the database exists (SQLite: the file is made), with no tables
    engine.connect().close()
    engine.dispose()
    result = CliRunner().invoke(app, ["audit", "verify", "--database", db_url])
    assert result.exit_code == 2 and "veriframe db upgrade" in result.output
