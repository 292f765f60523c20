"""Transparency v2 on SQLite and PostgreSQL: what an operator with database access and (sometimes)
the real signing key cannot hide from a trusted checkpoint, a witness or a verifier's memory.

Attacks made directly in the database: restoring an old snapshot, truncating after the last
checkpoint, forging a tail, rebuilding the log without one event (re-signed with the real key).
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import insert, select, text
from typer.testing import CliRunner

from tests.test_ledger import _fill, _forged_leaf, _ledger, _unlocked
from veriframe.provenance.transparency import merkle
from veriframe.provenance.transparency.leaf import LEAF_V1, event_document, leaf_data
from veriframe.service.cli.admin import app
from veriframe.service.db import AuditEvent, Checkpoint, LedgerHead, MerkleNode, session_factory, upgrade
from veriframe.service.ledger import Ledger

runner = CliRunner()
TABLES = (AuditEvent.__table__, MerkleNode.__table__, Checkpoint.__table__, LedgerHead.__table__)


# --- helpers: snapshots, keys, the CLI ------------------------------------------------------------


def _snapshot(url: str) -> dict[str, list[dict[str, Any]]]:
    with _unlocked(url) as c:
        return {t.name: [dict(r) for r in c.execute(select(t)).mappings()] for t in TABLES}


def _restore(url: str, snapshot: dict[str, list[dict[str, Any]]]) -> None:
    """Put the ledger tables back exactly as they were (what restoring a database backup does)."""
    with _unlocked(url) as c:
        for t in TABLES:
            c.execute(t.delete())
        for t in TABLES:
            if snapshot[t.name]:
                c.execute(insert(t), snapshot[t.name])


def _rebuild_without(url: str, key: ec.EllipticCurvePrivateKey, drop: int) -> None:
    """Truncate the log and append every event again except `drop`, signed with the real key."""
    old = _snapshot(url)["audit_events"]
    with _unlocked(url) as c:
        for t in TABLES[:3]:
            c.execute(t.delete())
        c.execute(
            text(
                "UPDATE ledger_head SET tree_size = 0, frontier = :f, root_hash = :r, checkpoint_note = NULL"
            ),
            {"f": "[]", "r": merkle.EMPTY_ROOT.hex()},
        )
        if c.dialect.name == "postgresql":  # checkpoint ids dense again, as a careful attacker leaves them
            c.execute(text("ALTER SEQUENCE checkpoints_id_seq RESTART WITH 1"))
    ledger = _ledger(url, key)
    for row in old:
        if row["seq"] != drop:
            ledger.append(
                row["event_type"],
                row["payload"],
                actor=row["actor"],
                tenant=row["tenant"],
                job_id=row["job_id"],
            )
    ledger.checkpoint()


def _pem(key: ec.EllipticCurvePrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def _save_checkpoint(url: str, out: Path) -> Path:
    result = runner.invoke(app, ["audit", "checkpoint", "--database", url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _verify(url: str, pub: Path, *extra: str) -> Any:
    return runner.invoke(app, ["audit", "verify", "--database", url, "--public-key", str(pub), *extra])


@pytest.fixture
def logged(migrated_db_url: str, p256_key, tmp_path: Path) -> tuple[str, Ledger, Path]:
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 10)
    ledger.checkpoint()
    return migrated_db_url, ledger, _pem(p256_key, tmp_path / "ledger-pub.pem")


# --- every event is covered by a signed checkpoint -------------------------------------------------


def test_every_append_signs_the_head(logged, p256_key) -> None:
    url, ledger, pub = logged
    _fill(ledger, 3, start=10)  # after the last stored checkpoint
    note = ledger.latest_note()
    assert note is not None and note.split("\n")[1] == "13"
    report = ledger.verify()
    assert report.ok and report.signed_size == 13
    # An offline tool without the key appends: the tail is reported, never called intact...
    _ledger(url).append("admin.key_created", {"k": 1}, actor="system:cli", tenant=None)
    report = ledger.verify()
    assert [(f.kind, f.seq, f.last_seq) for f in report.findings] == [("unsigned", 13, 13)]
    assert _verify(url, pub).exit_code == 1
    # ...until the next signed append or checkpoint covers it.
    ledger.checkpoint()
    assert ledger.verify().ok and _verify(url, pub).exit_code == 0


def test_editing_or_forging_the_tail_breaks_the_heads_signature(logged) -> None:
    url, ledger, pub = logged
    _fill(ledger, 2, start=10)  # 10, 11: newer than the last stored checkpoint
    with _unlocked(url) as c:  # edit event 11 and recompute its leaf, the tree and the head
        forged = _forged_leaf(11, {"forged": True})
        c.execute(
            text(
                "UPDATE audit_events SET actor = 'attacker', event_type = 'generated', tenant = 't1', "
                "job_id = NULL, time = :t, payload = :p, leaf_hash = :l WHERE seq = 11"
            ),
            {"t": "2026-01-01 00:00:00", "p": json.dumps({"forged": True}), "l": forged},
        )
        _rewrite_head(c, url)
    result = _verify(url, pub)
    assert result.exit_code == 1 and "head's signed checkpoint" in result.output, result.output

    url2, ledger2 = url, ledger
    with _unlocked(url2) as c:  # append a forged event with head and nodes updated
        c.execute(
            text(
                "INSERT INTO audit_events (seq, event_type, time, actor, tenant, job_id, payload, "
                "leaf_hash, leaf_version) VALUES (12, 'generated', :t, 'attacker', 't1', NULL, :p, :l, 2)"
            ),
            {
                "t": "2026-01-01 00:00:00",
                "p": json.dumps({"forged": True}),
                "l": _forged_leaf(12, {"forged": True}),
            },
        )
        _rewrite_head(c, url2)
    findings = ledger2.verify().findings
    assert {"unsigned", "checkpoint"} <= {f.kind for f in findings}, [str(f) for f in findings]


def _rewrite_head(c: Any, url: str) -> None:
    """Recompute nodes and head from the stored leaf hashes, as an attacker without the key would."""
    leaves = [
        bytes.fromhex(h) for h in c.execute(text("SELECT leaf_hash FROM audit_events ORDER BY seq")).scalars()
    ]
    c.execute(text("DELETE FROM merkle_nodes"))
    frontier: list[bytes] = []
    for i, leaf in enumerate(leaves):
        frontier, done = merkle.frontier_append(frontier, i, leaf)
        for level, idx, h in done:
            c.execute(
                text("INSERT INTO merkle_nodes (level, idx, hash) VALUES (:l, :i, :h)"),
                {"l": level, "i": idx, "h": h.hex()},
            )
    c.execute(
        text("UPDATE ledger_head SET tree_size = :n, root_hash = :r, frontier = :f"),
        {
            "n": len(leaves),
            "r": merkle.frontier_root(frontier).hex(),
            "f": json.dumps([h.hex() for h in frontier]),
        },
    )


# --- trusted checkpoints: rollback, truncation, rebuilt log ----------------------------------------


def test_restored_snapshot_fails_against_a_trusted_checkpoint(logged, tmp_path: Path) -> None:
    url, ledger, pub = logged
    old = _snapshot(url)  # 10 events, 1 checkpoint: internally consistent
    _fill(ledger, 6, start=10)
    ledger.checkpoint()
    trusted = _save_checkpoint(url, tmp_path / "trusted.checkpoint")
    assert _verify(url, pub, "--trusted-checkpoint", str(trusted)).exit_code == 0  # untouched

    _restore(url, old)
    assert _verify(url, pub).exit_code == 0  # alone, the old snapshot looks intact: why outsiders keep one
    result = _verify(url, pub, "--trusted-checkpoint", str(trusted))
    assert result.exit_code == 1 and "ROLLBACK" in result.output and "size 16" in result.output, result.output
    incremental = _verify(url, pub, "--trusted-checkpoint", str(trusted), "--incremental")
    assert incremental.exit_code == 1 and "ROLLBACK" in incremental.output


def test_truncated_after_the_last_checkpoint(logged, tmp_path: Path) -> None:
    url, ledger, pub = logged
    _fill(ledger, 5, start=10)
    trusted = _save_checkpoint(url, tmp_path / "trusted.checkpoint")  # size 15, from the head
    with _unlocked(url) as c:  # drop 10..14 and rewind the head to the stored checkpoint (size 10)
        c.execute(text("DELETE FROM audit_events WHERE seq >= 10"))
        note = c.execute(text("SELECT note FROM checkpoints ORDER BY id DESC LIMIT 1")).scalar()
        _rewrite_head(c, url)
        c.execute(text("UPDATE ledger_head SET checkpoint_note = :n"), {"n": note})
    assert _verify(url, pub).exit_code == 0
    result = _verify(url, pub, "--trusted-checkpoint", str(trusted))
    assert result.exit_code == 1 and "ROLLBACK" in result.output, result.output


def test_rebuilt_log_resigned_with_the_real_key_is_a_fork(logged, p256_key, tmp_path: Path) -> None:
    url, ledger, pub = logged
    trusted = _save_checkpoint(url, tmp_path / "trusted.checkpoint")
    _rebuild_without(url, p256_key, drop=4)
    _fill(ledger, 2, start=100)  # it grows past the trusted size again
    assert _verify(url, pub).exit_code == 0  # internally consistent and properly signed
    result = _verify(url, pub, "--trusted-checkpoint", str(trusted), "--json")
    assert result.exit_code == 1
    assert [f["kind"] for f in json.loads(result.output)["findings"]] == ["fork"]
    assert _verify(url, pub, "--trusted-checkpoint", str(trusted), "--incremental").exit_code == 1


def test_incremental_audit_checks_only_what_came_after(logged, tmp_path: Path) -> None:
    url, ledger, pub = logged
    trusted = _save_checkpoint(url, tmp_path / "trusted.checkpoint")
    _fill(ledger, 7, start=10)
    args = ("--trusted-checkpoint", str(trusted), "--incremental", "--json")
    report = json.loads(_verify(url, pub, *args).output)
    assert report["ok"] and (report["from_size"], report["events"], report["tree_size"]) == (10, 7, 17)
    with _unlocked(url) as c:
        c.execute(text("UPDATE audit_events SET actor = 'someone else' WHERE seq = 13"))
    result = _verify(url, pub, *args)
    assert result.exit_code == 1
    kinds = {(f["kind"], f["seq"]) for f in json.loads(result.output)["findings"]}
    assert ("edited", 13) in kinds, kinds
    # A trusted checkpoint signed by another key is refused before anything is compared.
    other = _pem(ec.generate_private_key(ec.SECP256R1()), tmp_path / "other.pem")
    assert _verify(url, other, "--trusted-checkpoint", str(trusted)).exit_code == 1


# --- the witness -----------------------------------------------------------------------------------


def _witness(url: str, pub: Path, tmp: Path, *extra: str) -> Any:
    return runner.invoke(
        app,
        [
            "audit",
            "witness",
            "--key",
            str(tmp / "w.key"),
            "--name",
            "witness.test/w1",
            "--state-dir",
            str(tmp / "witness-state"),
            "--ledger-key",
            str(pub),
            "--database",
            url,
            *extra,
        ],
    )


def test_witness_catches_rollback_and_fork_even_resigned(logged, p256_key, tmp_path: Path) -> None:
    url, ledger, pub = logged
    init = runner.invoke(
        app, ["audit", "witness", "--init", "--key", str(tmp_path / "w.key"), "--name", "witness.test/w1"]
    )
    assert init.exit_code == 0, init.output
    old = _snapshot(url)
    first = _witness(url, pub, tmp_path, "--out", str(tmp_path / "cosigned.checkpoint"))
    assert first.exit_code == 0 and "cosigned" in first.output, first.output
    _fill(ledger, 4, start=10)
    assert _witness(url, pub, tmp_path, "--out", str(tmp_path / "cosigned.checkpoint")).exit_code == 0

    # A verifier can require the witness's cosignature on the checkpoints it trusts.
    cosigned = [
        "--trusted-checkpoint",
        str(tmp_path / "cosigned.checkpoint"),
        "--witness-key",
        str(tmp_path / "w.vkey"),
    ]
    assert _verify(url, pub, *cosigned).exit_code == 0
    uncosigned = _save_checkpoint(url, tmp_path / "plain.checkpoint")
    refused = _verify(
        url, pub, "--trusted-checkpoint", str(uncosigned), "--witness-key", str(tmp_path / "w.vkey")
    )
    assert refused.exit_code == 1 and "witness cosignature" in refused.output

    _restore(url, old)  # rollback to 10 events
    rolled = _witness(url, pub, tmp_path)
    assert rolled.exit_code == 1 and "rollback" in rolled.output and "size 14" in rolled.output, rolled.output

    _restore(url, old)
    _rebuild_without(url, p256_key, drop=2)  # a fork, properly signed with the operator's real key
    _fill(ledger, 6, start=200)
    forked = _witness(url, pub, tmp_path)
    assert forked.exit_code == 1 and "fork" in forked.output, forked.output
    state = (tmp_path / "witness-state").iterdir()
    assert all(p.read_text().split("\n")[1] == "14" for p in state)  # it still holds what it cosigned


# --- the migration path: v1 leaves and checkpoints keep verifying -----------------------------------


def test_v1_ledger_upgraded_keeps_verifying(db_url: str, p256_key, tmp_path: Path) -> None:
    upgrade(db_url, revision="0002")
    frontier: list[bytes] = []
    with _unlocked(db_url) as c:
        for seq in range(5):
            doc = event_document(
                seq=seq,
                event_type="submitted",
                time="2026-01-01T00:00:00.000000Z",
                actor="key:a",
                tenant="t1",
                job_id=None,
                payload={"i": seq, "é": 1.5},
            )
            leaf = merkle.leaf_hash(leaf_data(doc, LEAF_V1))
            frontier, done = merkle.frontier_append(frontier, seq, leaf)
            c.execute(
                text(
                    "INSERT INTO audit_events (seq, event_type, time, actor, tenant, job_id, payload, "
                    "leaf_hash) VALUES (:s, 'submitted', '2026-01-01 00:00:00', 'key:a', 't1', NULL, :p, :l)"
                ),
                {"s": seq, "p": json.dumps({"i": seq, "é": 1.5}), "l": leaf.hex()},
            )
            for level, idx, h in done:
                c.execute(
                    text("INSERT INTO merkle_nodes VALUES (:l, :i, :h)"), {"l": level, "i": idx, "h": h.hex()}
                )
        root = merkle.frontier_root(frontier)
        b64 = base64.b64encode(root).decode()
        body = f"veriframe-audit-ledger/v1\n5\n{b64}\ntimestamp 2026-01-01T00:00:00.000000Z\n"
        der = p256_key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signature = base64.b64encode(p256_key.sign(body.encode(), ec.ECDSA(hashes.SHA256()))).decode()
        c.execute(
            text(
                "INSERT INTO checkpoints (tree_size, root_hash, timestamp, key_id, body, signature) "
                "VALUES (5, :r, '2026-01-01 00:00:00', :k, :b, :s)"
            ),
            {"r": root.hex(), "k": hashlib.sha256(der).hexdigest(), "b": body, "s": signature},
        )
        c.execute(
            text("UPDATE ledger_head SET tree_size = 5, root_hash = :r, frontier = :f"),
            {"r": root.hex(), "f": json.dumps([h.hex() for h in frontier])},
        )
    upgrade(db_url)
    ledger = _ledger(db_url, p256_key)
    before = ledger.verify()  # the v1 checkpoint covers all 5 v1 events
    assert before.ok and before.signed_size == 5, [str(f) for f in before.findings]
    _fill(ledger, 3, start=5)
    with session_factory(db_url)() as s:
        assert list(s.scalars(select(AuditEvent.leaf_version).order_by(AuditEvent.seq))) == [1] * 5 + [2] * 3
    report = ledger.verify()
    assert report.ok and report.signed_size == 8, [str(f) for f in report.findings]
    assert ledger.consistency_proof(5, 8).verify()
    with _unlocked(db_url) as c:  # a v1 leaf is still protected
        c.execute(text("UPDATE audit_events SET actor = 'someone else' WHERE seq = 2"))
    assert ("edited", 2) in {(f.kind, f.seq) for f in ledger.verify().findings}


# --- checkpoints read by an independent implementation of the C2SP rules ----------------------------


def _independent_open(
    note: str, name: str, ecdsa_pub: ec.EllipticCurvePublicKey
) -> tuple[int, bytes, list[str]]:
    """signed-note + tlog-checkpoint, written here from the specs (c2sp.org), not the project's parser."""
    assert all(ch == "\n" or ord(ch) >= 0x20 for ch in note)
    cut = note.rindex("\n\n")
    text_, sig_lines = note[: cut + 1], note[cut + 2 :].splitlines()
    lines = text_.split("\n")
    assert lines[-1] == "" and len(lines) >= 4 and all(lines[:-1])
    origin, size, root = lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True)
    assert origin == name and str(size) == lines[1] and len(root) == 32
    der = ecdsa_pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_id = hashlib.sha256(der).digest()[:4]  # signed-note type 0x02: SHA-256(SPKI DER)[:4]
    verified = []
    for line in sig_lines:
        dash, signer, blob = line.split(" ")
        assert dash == "\u2014"
        raw = base64.b64decode(blob)
        if (signer, raw[:4]) == (name, key_id):
            ecdsa_pub.verify(raw[4:], text_.encode(), ec.ECDSA(hashes.SHA256()))
            verified.append(signer)
    assert verified == [name]
    return size, root, sig_lines


def test_checkpoint_and_cosignature_verify_with_an_independent_implementation(
    logged, p256_key, tmp_path: Path
) -> None:
    url, ledger, pub = logged
    note = ledger.latest_note()
    origin = (
        "veriframe.ledger/"
        + hashlib.sha256(
            p256_key.public_key().public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        ).hexdigest()[:8]
    )
    size, root, _ = _independent_open(note, origin, p256_key.public_key())
    assert (size, root.hex()) == (10, ledger.head().root_hash)
    # Forged text: the log's signature no longer holds.
    with pytest.raises(Exception, match=""):
        _independent_open(note.replace("\n10\n", "\n11\n"), origin, p256_key.public_key())

    # A witness cosignature (tlog-cosignature, Ed25519 type 0x04), checked from the spec.
    witness_key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "w.key").write_bytes(
        witness_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    result = _witness(url, pub, tmp_path, "--out", str(tmp_path / "cosigned"))
    assert result.exit_code == 0, result.output
    cosigned = (tmp_path / "cosigned").read_text()
    *_, lines = _independent_open(cosigned, origin, p256_key.public_key())
    raw_pub = witness_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    name = "witness.test/w1"
    key_id = hashlib.sha256(name.encode() + b"\n\x04" + raw_pub).digest()[:4]
    blobs = [base64.b64decode(line.split(" ")[2]) for line in lines if line.split(" ")[1] == name]
    assert len(blobs) == 1 and blobs[0][:4] == key_id and len(blobs[0]) == 4 + 8 + 64
    timestamp = int.from_bytes(blobs[0][4:12], "big")
    body = cosigned[: cosigned.rindex("\n\n") + 1]
    witness_key.public_key().verify(blobs[0][12:], f"cosignature/v1\ntime {timestamp}\n{body}".encode())


def test_downgrade_below_v2_leaves_is_refused(migrated_db_url: str, p256_key) -> None:
    from veriframe.service.db import current, downgrade, head

    _fill(_ledger(migrated_db_url, p256_key), 1)
    with pytest.raises(RuntimeError, match="v2 leaf format"):
        downgrade(migrated_db_url, "0002")
    assert current(migrated_db_url) in ("0003_transparency", head())  # never below the v2 leaves
