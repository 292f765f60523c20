"""`veriframe-verify --server`: the ledger lookup, with the inclusion proof re-checked on the client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.fixtures.server import TEST_PARAMS
from veriframe.provenance import media
from veriframe.provenance.synthetic import natural_video
from veriframe.service.cli import app as veriframe_app
from veriframe.service.cli.verify import app as verify_app

runner = CliRunner()


def test_verify_with_server_finds_the_ledger_record(live_server, service_keys_dir: Path, tmp_path: Path):
    with live_server.client(tenant="lookup") as client:
        result = client.generate("a paper boat drifting down a rainy street", output=tmp_path,
                                 return_frames=True, **TEST_PARAMS)
        frame = client.download(result.job_id, tmp_path / "frame2.png", what="frame", frame_index=2)
    key = live_server.key("client", "lookup")  # the owner sees its ledger event
    args = [str(result.path), "--trust-anchor", str(service_keys_dir / "root-ca.pem"),
            "--server", live_server.address, "--api-key", key,
            "--ledger-key", str(service_keys_dir / "ledger-pub.pem")]

    verified = runner.invoke(verify_app, [*args, "--json"])
    assert verified.exit_code == 0, verified.output
    audit = json.loads(verified.stdout)[0]["audit"]
    assert audit["found"] and audit["job_id"] == result.job_id
    assert audit["event_type"] == "generated" and audit["leaf_ok"] and audit["id_matches"]
    assert audit["manifest_matches"] and audit["video_matches"]
    assert audit["proof"]["path_ok"] and audit["proof"]["ok"]
    human = runner.invoke(verify_app, args)
    assert human.exit_code == 0 and f"job {result.job_id}" in human.stdout

    # An exported frame has its own manifest; the ledger's record of its video still backs it.
    frame_run = runner.invoke(verify_app, [str(frame), *args[1:], "--json"])
    assert frame_run.exit_code == 0, frame_run.output
    frame_audit = json.loads(frame_run.stdout)[0]["audit"]
    assert frame_audit["job_id"] == result.job_id and frame_audit["id_matches"]
    assert not frame_audit["video_matches"] and frame_audit["proof"]["ok"]

    # Anyone else (here a verifier key of another tenant) learns that the service made it, with a
    # proof, but not whose it is.
    other = [*args[:-4], "--api-key", live_server.key("verifier", "public"), *args[-2:]]
    redacted = runner.invoke(verify_app, [*other, "--json"])
    assert redacted.exit_code == 0, redacted.output
    audit = json.loads(redacted.stdout)[0]["audit"]
    assert audit["found"] and audit["redacted"] and audit["proof"]["ok"]
    assert "job_id" not in audit and "tenant" not in audit and "event_type" not in audit

    _owner_checks_the_prompt(live_server, result, "a paper boat drifting down a rainy street")
    # The owner's command line: --prompt-file without the deployment's key asks the service.
    (tmp_path / "right.txt").write_text("a paper boat drifting down a rainy street")
    (tmp_path / "wrong.txt").write_text("a paper plane")
    right = runner.invoke(verify_app, [*args, "--json", "--prompt-file", str(tmp_path / "right.txt")])
    assert right.exit_code == 0 and json.loads(right.stdout)[0]["prompt_matches"] is True, right.output
    wrong = runner.invoke(verify_app, [*args, "--prompt-file", str(tmp_path / "wrong.txt")])
    assert wrong.exit_code == 1 and "does not match the job's prompt commitment" in wrong.stdout

    # A video signed with the same keys but never made by the service has no ledger record.
    outsider = tmp_path / "outsider"
    outsider.mkdir()
    media.encode_mp4(natural_video(9, 256, 256, seed=5), 8, outsider / "in.mp4")
    marked = runner.invoke(veriframe_app, ["provenance", "mark", str(outsider / "in.mp4"),
                                           str(outsider / "out.mp4"), "--keys", str(service_keys_dir)])
    assert marked.exit_code == 0, marked.output
    unknown = runner.invoke(verify_app, [str(outsider / "out.mp4"), *args[1:], "--json"])
    assert unknown.exit_code == 1, unknown.output
    report = json.loads(unknown.stdout)[0]
    assert report["audit"] == {"server": live_server.address, "found": False}
    assert "no record" in " ".join(report["reasons"])


def _owner_checks_the_prompt(live_server, result, prompt: str) -> None:
    """The owner has the server confirm the prompt against the job's keyed commitment (which the job
    and the signed manifest both carry); nobody else gets an answer, and the prompt is not recorded."""
    import hashlib

    from google.protobuf.json_format import MessageToDict
    from sqlalchemy import select

    from veriframe.service.client import InvalidArgument
    from veriframe.service.db import AuditEvent

    with live_server.client(tenant="lookup") as client:
        job = client.get_job(result.job_id)
        plain = client.verify(result.path)
        manifest = MessageToDict(plain.report)["c2pa"]["prompt_commitment"]
        assert (manifest["value"], manifest["key_id"]) == (job.prompt_commitment, job.prompt_key_id)
        assert job.proto.prompt_sha256 == "" and plain.prompt_check == ""
        assert client.verify(result.path, prompt=prompt).prompt_check == "matches"
        assert client.verify(result.path, prompt=prompt + " at noon").prompt_check == "does_not_match"
        with pytest.raises(InvalidArgument, match=r"header\.prompt"):
            client.verify(result.path, prompt="x" * (live_server.settings.max_prompt_chars + 1))
    with live_server.client("verifier", "public") as stranger:
        answer = stranger.verify(result.path, prompt=prompt)
        assert answer.prompt_check == "not_checked" and "only the tenant" in answer.prompt_check_reason
    with live_server.ctx.sessions() as s:
        query = select(AuditEvent).where(AuditEvent.event_type == "verified").order_by(AuditEvent.seq)
        checks = [e.payload["prompt_check"] for e in s.scalars(query)]
        assert checks[-3:] == ["matches", "does_not_match", "not_checked"]
        recorded = str([e.payload for e in s.scalars(select(AuditEvent))])
    assert prompt not in recorded and hashlib.sha256(prompt.encode()).hexdigest() not in recorded


def test_verify_with_server_needs_a_key_and_a_reachable_server(tmp_path: Path):
    media.encode_mp4(natural_video(3, 256, 256, seed=1), 8, tmp_path / "v.mp4")
    no_key = runner.invoke(verify_app, [str(tmp_path / "v.mp4"), "--server", "127.0.0.1:1"],
                           env={"VERIFRAME_API_KEY": ""})
    assert no_key.exit_code == 2 and "API key" in no_key.output
    down = runner.invoke(verify_app, [str(tmp_path / "v.mp4"), "--server", "127.0.0.1:1",
                                      "--api-key", "vf_x_y"])
    assert down.exit_code == 2 and "audit lookup" in down.output


def test_verify_state_dir_catches_rollback_and_fork(make_live_server, service_keys_dir: Path, tmp_path: Path):
    """The verifier remembers the largest checkpoint it saw; a restored backup or a log rebuilt and
    re-signed with the real key can no longer answer consistently."""
    from tests.test_ledger import _fill, _ledger
    from tests.test_ledger_transparency import _rebuild_without, _restore, _snapshot

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    live = make_live_server(database_url=url)
    with live.client(tenant="state") as client:
        result = client.generate("a paper boat drifting down a rainy street", output=tmp_path, **TEST_PARAMS)
    state = tmp_path / "verifier-state"
    args = [str(result.path), "--trust-anchor", str(service_keys_dir / "root-ca.pem"),
            "--server", live.address, "--api-key", live.key("verifier", "public"),
            "--ledger-key", str(service_keys_dir / "ledger-pub.pem"), "--state-dir", str(state), "--json"]

    first = runner.invoke(verify_app, args)
    assert first.exit_code == 0, first.output
    assert "first checkpoint" in json.loads(first.stdout)[0]["audit"]["proof"]["consistency"]
    old = _snapshot(url)
    for _ in range(3):  # every Verify is itself recorded: the log grows between lookups
        again = runner.invoke(verify_app, args)
        assert again.exit_code == 0, again.output
        assert "consistent with the checkpoint seen before" in json.loads(again.stdout)[0]["audit"]["proof"][
            "consistency"]
    seen = int((next(state.iterdir())).read_text().split("\n")[1])

    _restore(url, old)  # the operator restores a backup taken earlier
    rolled = runner.invoke(verify_app, args)
    assert rolled.exit_code == 1, rolled.output
    assert "rollback" in rolled.output and f"size {seen}" in rolled.output, rolled.output

    key = service_keys_dir / "ledger-key.pem"
    _rebuild_without(url, key, drop=0)  # a fork, signed with the operator's real key...
    _fill(_ledger(url, key), seen)  # ...and larger than anything the verifier saw
    forked = runner.invoke(verify_app, args)
    assert forked.exit_code == 1 and "fork" in forked.output, forked.output

    # The SDK: a size the log does not have is a clear INVALID_ARGUMENT, not a crash.
    from veriframe.service.client import InvalidArgument

    with live.client("verifier", "public") as client:
        size = client.latest_checkpoint().tree_size
        assert client.consistency_proof(1, size).second_size == size
        with pytest.raises(InvalidArgument, match="not"):
            client.consistency_proof(1, size + 10)
