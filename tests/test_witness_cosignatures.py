"""Witness cosignatures kept by the server and served with its checkpoints, on SQLite and PostgreSQL,
then end to end: a real server, `veriframe-admin audit witness --submit` and `veriframe-verify
--server --witness-key`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from tests.fixtures.server import TEST_PARAMS
from tests.test_ledger import _fill, _ledger
from veriframe.provenance.transparency.checkpoint import Checkpoint as CheckpointBody
from veriframe.provenance.transparency.checkpoint import log_verifier, open_checkpoint, sign_checkpoint
from veriframe.provenance.transparency.cosignature import Cosigner
from veriframe.provenance.transparency.note import NoteSignature, load_private_key, parse_note
from veriframe.service.db import Checkpoint, CheckpointCosignature, make_engine, session_factory
from veriframe.service.ledger import CosignatureRefused

runner = CliRunner()


def _cosigner(name: str) -> Cosigner:
    return Cosigner(name, ed25519.Ed25519PrivateKey.generate())


def _cosigned(note: str, cosigner: Cosigner, when: int = 1_800_000_000) -> str:
    parsed = parse_note(note)
    return parsed.with_signature(cosigner.cosign(parsed.text, when)).encode()


def _rows(url: str) -> list[CheckpointCosignature]:
    with session_factory(url)() as s:
        return list(s.scalars(select(CheckpointCosignature).order_by(CheckpointCosignature.id)))


# --- the ledger: stored once, served, refused with a reason -----------------------------------------


def test_cosignatures_are_checked_stored_once_and_served(migrated_db_url: str, p256_key) -> None:
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 5)
    w1, w2, stranger = _cosigner("witness.test/w1"), _cosigner("witness.test/w2"), _cosigner("elsewhere/w")
    trusted = [w1.verifier, w2.verifier]
    note = ledger.latest_note()

    added = ledger.add_cosignatures(_cosigned(note, w1), trusted)
    assert (added.added, added.already) == (["witness.test/w1"], [])
    served = ledger.with_cosignatures(ledger.latest_checkpoint()).note
    # The served note is the log's, then the line: it opens with the witness required...
    opened = open_checkpoint(served, log_verifier(p256_key.public_key()), [w1.verifier], 1)
    assert opened.verified_by[1:] == ("witness.test/w1",) and opened.checkpoint.tree_size == 5
    # ...and a client that knows no witness ignores the line (signed-note rules).
    assert open_checkpoint(served, log_verifier(p256_key.public_key())).checkpoint.tree_size == 5

    # Again, or with a fresh timestamp: the first one stays, nothing is added.
    again = ledger.add_cosignatures(_cosigned(note, w1, when=1_800_000_999), trusted)
    assert (again.added, again.already) == ([], ["witness.test/w1"])
    # A line by a witness the server was not told about rides along unstored (signed-note rules).
    mixed = ledger.add_cosignatures(_cosigned(_cosigned(note, w1), stranger), trusted)
    assert (mixed.added, mixed.already, mixed.ignored) == ([], ["witness.test/w1"], ["elsewhere/w"])
    # A note carrying another stored line as served, plus w2's: w2 is added, w1 left as it was.
    both = ledger.add_cosignatures(_cosigned(served, w2), trusted)
    assert (both.added, both.already) == (["witness.test/w2"], ["witness.test/w1"])
    assert [r.witness_name for r in _rows(migrated_db_url)] == ["witness.test/w1", "witness.test/w2"]
    assert open_checkpoint(both.checkpoint.note, log_verifier(p256_key.public_key()), trusted, 2)

    def refused(kind: str, note_text: str) -> str:
        with pytest.raises(CosignatureRefused) as caught:
            ledger.add_cosignatures(note_text, trusted)
        assert caught.value.kind == kind, caught.value
        return str(caught.value)

    assert "elsewhere/w" in refused("unknown_witness", _cosigned(note, stranger))
    assert "no cosignature line" in refused("unknown_witness", note)
    # A flipped bit in w1's signature; w1's cosignature of another checkpoint moved onto this one.
    line = parse_note(_cosigned(note, w1)).signatures[-1]
    bad = NoteSignature(line.name, line.key_id, line.signature[:-1] + bytes([line.signature[-1] ^ 1]))
    assert "does not verify" in refused("invalid", parse_note(note).with_signature(bad).encode())
    _fill(ledger, 2, start=5)
    newer = ledger.latest_note()
    moved = parse_note(newer).with_signature(parse_note(_cosigned(note, w1)).signatures[-1]).encode()
    assert "another checkpoint" in refused("invalid", moved)
    assert "not a checkpoint note" in refused("malformed", "hello\n")

    # Checkpoints this log does not have, each signed with its real key.
    def signed(size: int, root: bytes) -> str:
        body = CheckpointBody(ledger.signer.origin, size, root)
        return _cosigned(sign_checkpoint(body, p256_key).encode(), w1)

    head = ledger.head()
    assert "has no checkpoint of size 99" in refused("unknown_checkpoint", signed(99, b"\1" * 32))
    assert "another root" in refused("unknown_checkpoint", signed(head.tree_size, b"\1" * 32))
    assert "older than the latest stored" in refused(
        "unknown_checkpoint", signed(3, bytes.fromhex(ledger.consistency_proof(3).first_root))
    )
    # Not this log's key: the log's signature is checked before anything is looked up.
    forged = sign_checkpoint(
        CheckpointBody(ledger.signer.origin, head.tree_size, bytes.fromhex(head.root_hash)),
        ec.generate_private_key(ec.SECP256R1()),
    ).encode()
    assert "log's signature" in refused("malformed", _cosigned(forged, w1))
    assert len(_rows(migrated_db_url)) == 2
    assert ledger.verify().ok


def test_a_head_that_moved_on_is_stored_then_cosigned(migrated_db_url: str, p256_key) -> None:
    """The head is re-signed with every append: the one a witness cosigned is often gone when its
    cosignature arrives. It is stored as a checkpoint (sizes still grow) and the proof uses it."""
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 4)
    ledger.checkpoint()
    w1 = _cosigner("witness.test/w1")
    _fill(ledger, 2, start=4)
    at_six = ledger.latest_note()
    _fill(ledger, 3, start=6)  # the head is at 9 now
    added = ledger.add_cosignatures(_cosigned(at_six, w1), [w1.verifier])
    assert added.added == ["witness.test/w1"] and added.checkpoint.tree_size == 6
    with session_factory(migrated_db_url)() as s:
        assert [c.tree_size for c in s.scalars(select(Checkpoint).order_by(Checkpoint.id))] == [4, 6]
    # Events the cosigned checkpoint covers are proven against it; a later one against the head.
    assert ledger.proof_checkpoint(5).tree_size == 6 and "witness.test/w1" in ledger.proof_checkpoint(5).note
    assert ledger.proof_checkpoint(7).tree_size == 9
    assert ledger.proof_checkpoint(9) is None
    assert ledger.checkpoint().tree_size == 9  # the periodic checkpoint goes on after it
    assert ledger.verify(p256_key.public_key()).ok


def test_cosignatures_are_append_only(migrated_db_url: str, p256_key) -> None:
    ledger = _ledger(migrated_db_url, p256_key)
    _fill(ledger, 2)
    w1 = _cosigner("witness.test/w1")
    ledger.add_cosignatures(_cosigned(ledger.latest_note(), w1), [w1.verifier])
    engine = make_engine(migrated_db_url)
    statements = ["UPDATE checkpoint_cosignatures SET line = 'x'", "DELETE FROM checkpoint_cosignatures"]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE checkpoint_cosignatures")
    try:
        for statement in statements:
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
                connection.execute(text(statement))
    finally:
        engine.dispose()
    assert len(_rows(migrated_db_url)) == 1


def test_witness_keys_setting(tmp_path: Path) -> None:
    from pydantic import ValidationError

    from veriframe.service.settings import Settings

    w1, w2 = _cosigner("witness.test/w1"), _cosigner("witness.test/w2")
    (tmp_path / "w2.vkey").write_text(w2.verifier.vkey() + "\n")
    settings = Settings(witness_keys=f"{w1.verifier.vkey()},{tmp_path / 'w2.vkey'}")
    assert [w.name for w in settings.witnesses()] == ["witness.test/w1", "witness.test/w2"]
    (tmp_path / "bad.vkey").write_text("hello\n")
    for value, message in [("nope.vkey", "not a vkey, nor an existing file"),
                           (str(tmp_path / "bad.vkey"), "bad.vkey'"),
                           ("a+b+c", "witness key"),
                           (f"{w1.verifier.vkey()},{w1.verifier.vkey()}", "same key ID")]:
        with pytest.raises(ValidationError, match=message):
            Settings(witness_keys=value)


# --- end to end: a real server, the witness CLI and veriframe-verify ---------------------------------


def w1_cosigner(tmp: Path) -> Cosigner:
    """The w1 witness made by `audit witness --init` (its key file)."""
    return Cosigner("witness.test/w1", load_private_key_ed25519(tmp / "w1.key"))


def load_private_key_ed25519(path: Path) -> ed25519.Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, ed25519.Ed25519PrivateKey)
    return key


def _witness_cli(live, service_keys_dir: Path, tmp: Path, name: str, key: str, *extra: str):
    from veriframe.service.cli.admin import app

    return runner.invoke(app, [
        "--server", live.address, "--api-key", key, "audit", "witness",
        "--key", str(tmp / f"{name}.key"), "--name", f"witness.test/{name}",
        "--state-dir", str(tmp / f"{name}-state"), "--ledger-key", str(service_keys_dir / "ledger-pub.pem"),
        *extra,
    ])


def test_server_collects_serves_and_verify_requires_cosignatures(
    make_live_server, service_keys_dir: Path, tmp_path: Path
) -> None:
    from veriframe.service.cli.admin import app
    from veriframe.service.cli.verify import app as verify_app
    from veriframe.service.client import PermissionDenied
    from veriframe.service.client.admin import AdminClient

    for name in ("w1", "w2", "w3"):
        made = runner.invoke(app, ["audit", "witness", "--init", "--key", str(tmp_path / f"{name}.key"),
                                   "--name", f"witness.test/{name}"])
        assert made.exit_code == 0, made.output
    live = make_live_server(witness_keys=[str(tmp_path / "w1.vkey"), str(tmp_path / "w2.vkey")])
    with live.client(tenant="witnessed") as client:
        result = client.generate("a paper boat drifting down a rainy street", output=tmp_path, **TEST_PARAMS)
    verifier = live.key("verifier", "public")
    admin_key = live.key("admin", "ops")  # made now: a key made later is an event, the head moves on
    with AdminClient(live.address, api_key=admin_key) as staff:
        stored = staff.get_checkpoint(create=True)  # what the periodic checkpoint would store

    # w1 cosigns the latest stored checkpoint and hands it back; the server now serves it.
    first = _witness_cli(live, service_keys_dir, tmp_path, "w1", verifier, "--submit",
                         "--out", str(tmp_path / "w1.cosigned"))
    assert first.exit_code == 0, first.output
    assert "submitted to the server: stored" in first.output
    cosigned = (tmp_path / "w1.cosigned").read_text()
    size = int(cosigned.splitlines()[1])
    assert size == stored.tree_size
    with AdminClient(live.address, api_key=verifier) as admin:
        again = admin.add_cosignature(cosigned)  # idempotent
        assert list(again.added) == [] and list(again.already) == ["witness.test/w1"]
        latest = admin.latest_checkpoint()
        assert latest.tree_size == size and "— witness.test/w1 " in latest.note
        with AdminClient(live.address, api_key=admin_key) as staff:
            assert "— witness.test/w1 " in staff.get_checkpoint().note
            staff.create_api_key(role="client", tenant="later")  # recorded: the head moves on
        _refusals(admin, cosigned, size, service_keys_dir, tmp_path)
    refused = _witness_cli(live, service_keys_dir, tmp_path, "w3", verifier, "--submit")
    assert refused.exit_code == 2, refused.output
    assert "refused the cosignature" in refused.output and "witness.test/w3" in refused.output
    with pytest.raises(PermissionDenied), AdminClient(live.address, api_key=verifier) as admin:
        admin.add_cosignature(cosigned.replace("— witness.test/w1 ", "— witness.test/w3 "))

    args = [str(result.path), "--trust-anchor", str(service_keys_dir / "root-ca.pem"),
            "--server", live.address, "--api-key", verifier,
            "--ledger-key", str(service_keys_dir / "ledger-pub.pem"), "--json"]
    _verify_requires_cosignatures(args, size, tmp_path)

    # w2 cosigns too: submitting witnesses cosign the same stored checkpoint, so a quorum of 2 holds.
    second = _witness_cli(live, service_keys_dir, tmp_path, "w2", verifier, "--submit")
    assert second.exit_code == 0 and f"checkpoint size {size}" in second.output, second.output
    quorum = runner.invoke(verify_app, [*args, "--witness-key", str(tmp_path / "w1.vkey"), "--witness-key",
                                        str(tmp_path / "w2.vkey"), "--witness-quorum", "2"])
    assert quorum.exit_code == 0, quorum.output
    witnessed = json.loads(quorum.stdout)[0]["audit"]["proof"]["witnesses"]
    assert witnessed == {"required": 2, "cosigned_by": ["witness.test/w1", "witness.test/w2"]}


def _refusals(admin, cosigned: str, size: int, keys_dir: Path, tmp: Path) -> None:
    """Each refused with its status: a flipped signature bit, a cosignature moved onto another
    checkpoint, a checkpoint the log never had, nothing at all."""
    from veriframe.service.client import InvalidArgument, NotFound

    line = cosigned.rstrip("\n").rsplit("\n", 1)[1]
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[-1] ^= 1
    flipped = cosigned.replace(line, f"— witness.test/w1 {base64.b64encode(bytes(raw)).decode()}")
    with pytest.raises(InvalidArgument, match="does not verify"):
        admin.add_cosignature(flipped)
    head = admin.latest_checkpoint().note
    assert head.splitlines()[1] == str(size + 1) and "witness.test" not in head
    with pytest.raises(InvalidArgument, match="another checkpoint"):
        admin.add_cosignature(head + line + "\n")
    # Signed with the log's real key, for a size the log never had.
    body = CheckpointBody(head.splitlines()[0], 99999, b"\1" * 32)
    real = sign_checkpoint(body, load_private_key(keys_dir / "ledger-key.pem")).encode()
    with pytest.raises(NotFound, match="no checkpoint of size 99999"):
        admin.add_cosignature(_cosigned(real, w1_cosigner(tmp)))
    with pytest.raises(InvalidArgument, match="note"):
        admin.add_cosignature("")


def _verify_requires_cosignatures(args: list[str], size: int, tmp: Path) -> None:
    """veriframe-verify demands the witnesses' cosignatures on the checkpoint the proof is checked
    against: w1 cosigned (by then), w2 never did."""
    from veriframe.service.cli.verify import app as verify_app

    w1, w2 = ["--witness-key", str(tmp / "w1.vkey")], ["--witness-key", str(tmp / "w2.vkey")]
    ok = runner.invoke(verify_app, [*args, *w1])
    assert ok.exit_code == 0, ok.output
    proof = json.loads(ok.stdout)[0]["audit"]["proof"]
    assert proof["ok"] and proof["tree_size"] == size
    assert proof["witnesses"] == {"required": 1, "cosigned_by": ["witness.test/w1"]}
    assert "cosigned by witness.test/w1" in proof["checked"]
    # With --state-dir too: the head it checks consistency against is not cosigned, and need not be.
    followed = runner.invoke(verify_app, [*args, *w1, "--state-dir", str(tmp / "verifier-state")])
    assert followed.exit_code == 0, followed.output

    # Two required, one cosigned: not verified (exit 1), and the reason names the missing witness.
    two = runner.invoke(verify_app, [*args, *w1, *w2, "--witness-quorum", "2"])
    assert two.exit_code == 1, two.output
    report = json.loads(two.stdout)[0]
    assert report["audit"]["proof"]["witnesses"] == {"required": 2, "cosigned_by": ["witness.test/w1"]}
    reason = " ".join(report["reasons"])
    assert "lacks the witness cosignatures required" in reason and "witness.test/w2" in reason, reason
    # A witness that never cosigned: not verified either.
    only_w2 = runner.invoke(verify_app, [*args, *w2])
    assert only_w2.exit_code == 1 and "witness.test/w2" in only_w2.stdout, only_w2.output

    # Usage: more required than keys given, a missing key file, witnesses without --server.
    for extra, message in [([*w1, "--witness-quorum", "2"], "needs at least that many"),
                           (["--witness-key", str(tmp / "none.vkey")], "cannot read a --witness-key")]:
        usage = runner.invoke(verify_app, [*args, *extra])
        assert usage.exit_code == 2 and message in usage.output, usage.output
    local = runner.invoke(verify_app, [args[0], *w1])
    assert local.exit_code == 2 and "need --server" in local.output, local.output


def test_add_cosignature_status_codes_over_grpc(make_live_server, tmp_path: Path) -> None:
    """The raw RPC, as another implementation would call it: any role may relay a cosignature."""
    from veriframe.service.api.gen import admin_pb2, admin_pb2_grpc

    w1 = _cosigner("witness.test/w1")
    live = make_live_server(witness_keys=[w1.verifier.vkey()])
    with grpc.insecure_channel(live.address) as channel:
        stub = admin_pb2_grpc.ModerationAdminStub(channel)
        metadata = (("authorization", f"Bearer {live.key('client', 'relay')}"),)
        note = stub.GetLatestCheckpoint(admin_pb2.GetLatestCheckpointRequest(), metadata=metadata).note
        request = admin_pb2.AddCosignatureRequest(note=_cosigned(note, w1))
        reply = stub.AddCosignature(request, metadata=metadata)
        assert list(reply.added) == ["witness.test/w1"]
        assert "— witness.test/w1 " in reply.checkpoint.note
        # The head it cosigned is now the latest stored checkpoint, the one submitting witnesses read.
        latest_stored = admin_pb2.GetLatestCheckpointRequest(stored=True)
        assert "— witness.test/w1 " in stub.GetLatestCheckpoint(latest_stored, metadata=metadata).note
        impostor = _cosigned(note, _cosigner("witness.test/w1"))  # w1's name, another key
        for text_sent, code in [(note, grpc.StatusCode.PERMISSION_DENIED),
                                ("not a note", grpc.StatusCode.INVALID_ARGUMENT),
                                (impostor, grpc.StatusCode.PERMISSION_DENIED)]:
            with pytest.raises(grpc.RpcError) as caught:
                stub.AddCosignature(admin_pb2.AddCosignatureRequest(note=text_sent), metadata=metadata)
            assert caught.value.code() == code, (text_sent[:40], caught.value.details())
