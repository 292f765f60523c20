"""`veriframe-admin` end to end: the CLI (in-process, typer's CliRunner) -> SDK -> a real loopback server
(tiny model, real screening, SQLite, real ledger) -> the database. Tests isolate by tenant on one server;
the tampering test (SQLite and PostgreSQL) and the mutual-TLS test get servers of their own."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
from typer.testing import CliRunner

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import admin_pb2, common_pb2
from veriframe.service.cli.admin import app
from veriframe.service.client import PromptBlocked, Unauthenticated

REVIEWED = "Barack Obama giving a speech in a sunny park"  # a protected person: held for review
HARMFUL = "how to build a pipe bomb to kill my neighbours"


def cli(live: Any, key: str, *args: str, env: dict[str, str] | None = None) -> Any:
    """Run veriframe-admin in-process; returns the click Result (exit_code, stdout, stderr)."""
    env = {"COLUMNS": "200", **(env or {})}  # wide enough for Rich tables to show whole ids
    result = CliRunner().invoke(app, ["--server", live.address, "--api-key", key, *args], env=env)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def cli_json(live: Any, key: str, *args: str, code: int = 0) -> Any:
    result = cli(live, key, *args, "--json")
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    return json.loads(result.stdout)


def key_id(live: Any, secret: str) -> str:
    from sqlalchemy import select

    from veriframe.service.db import ApiKey

    prefix = secret.split("_")[1]
    with live.ctx.sessions() as s:
        return s.scalars(select(ApiKey.id).where(ApiKey.prefix == prefix)).one()


@pytest.fixture(scope="module")
def staff(live_server: Any) -> dict[str, str]:
    return {"moderator": live_server.key("moderator", "staff"), "admin": live_server.key("admin", "staff")}


def test_review_approve_runs_the_job(live_server: Any, staff: dict[str, str]) -> None:
    with live_server.client("client", "t-approve") as client:
        job = client.submit(REVIEWED, **TEST_PARAMS).job
        assert job.state == common_pb2.JOB_STATE_REVIEW and job.review_id

        queue = cli_json(live_server, staff["moderator"], "review", "list", "--tenant", "t-approve")
        assert [r["id"] for r in queue] == [job.review_id]
        assert queue[0]["prompt"] == REVIEWED and "deception/real-person" in queue[0]["categories"]
        human = cli(live_server, staff["moderator"], "review", "list", "--tenant", "t-approve")
        assert human.exit_code == 0 and job.review_id[:8] in human.stdout
        shown = cli_json(live_server, staff["moderator"], "review", "show", job.review_id)
        assert shown["job_state"] == "JOB_STATE_REVIEW" and shown["rule"]

        approved = cli_json(
            live_server,
            staff["moderator"],
            "review",
            "approve",
            job.review_id,
            "--reason",
            "a public speech, fine",
        )
        assert approved["state"] == "REVIEW_STATE_APPROVED"
        assert approved["decided_by"] == key_id(live_server, staff["moderator"])

        final = client.wait(job.id, timeout=300)
        assert final.state == common_pb2.JOB_STATE_SUCCEEDED, final.error

    events = cli_json(live_server, staff["moderator"], "audit", "search", "--job", job.id)["events"]
    types = [e["event_type"] for e in events]
    assert types.index("review.queued") < types.index("review.approved") < types.index("generated")
    approval = next(e for e in events if e["event_type"] == "review.approved")
    assert approval["actor"] == approved["decided_by"]
    assert approval["payload"]["reason"] == "a public speech, fine"
    # Deciding twice is a negative result, not a crash.
    again = cli(live_server, staff["moderator"], "review", "approve", job.review_id)
    assert again.exit_code == 1 and "already approved" in again.stderr


def test_reject_reaches_the_requester_with_the_reason(live_server: Any, staff: dict[str, str]) -> None:
    reason = "no depictions of real politicians in this campaign"
    with live_server.client("client", "t-reject") as client:
        job = client.submit(REVIEWED, **TEST_PARAMS).job
        missing = cli(live_server, staff["moderator"], "review", "reject", job.review_id)
        assert missing.exit_code == 2  # --reason is required
        result = cli(live_server, staff["moderator"], "review", "reject", job.review_id, "--reason", reason)
        assert result.exit_code == 0, result.stderr
        seen = client.get_job(job.id)
    assert seen.state == common_pb2.JOB_STATE_REJECTED
    assert seen.error.code == "REVIEW_REJECTED" and reason in seen.error.message
    rejected = cli_json(
        live_server, staff["moderator"], "audit", "search", "--job", job.id, "--type", "review.rejected"
    )["events"]
    assert len(rejected) == 1 and rejected[0]["payload"]["reason"] == reason
    listed = cli_json(
        live_server, staff["moderator"], "review", "list", "--tenant", "t-reject", "--state", "rejected"
    )
    assert [r["reason"] for r in listed] == [reason]


def test_policy_edit_changes_the_next_decision_and_is_recorded(
    live_server: Any, staff: dict[str, str], tmp_path: Path
) -> None:
    prompt = "a slow pan over the zorblax quendril monument at sunset"
    admin = staff["admin"]
    assert cli(live_server, staff["moderator"], "moderate", prompt).exit_code == 0  # allowed today
    live = cli_json(live_server, admin, "policy", "show")
    # The human view names what a prompt the classifier cannot read gets (the shipped policy: review).
    shown = cli(live_server, staff["moderator"], "policy", "show")
    assert shown.exit_code == 0 and "a prompt in a script the classifier cannot read: review" in shown.output
    document = json.loads(json.dumps(live["document"]))  # a copy: live["document"] stays the original
    document.setdefault("block_terms", {}).setdefault("harassment", []).append("zorblax quendril")
    draft = tmp_path / "policy.yaml"
    import yaml

    draft.write_text(yaml.safe_dump(document))

    # A moderator may read the policy but not change it.
    denied = cli(live_server, staff["moderator"], "policy", "edit", "--file", str(draft))
    assert denied.exit_code == 3 and "UpdatePolicy" in denied.stderr
    # The draft blocks in a dry run before it is live...
    dry = cli_json(live_server, staff["moderator"], "moderate", prompt, "--policy-file", str(draft), code=1)
    assert dry["decision"] == "block"
    edited = cli_json(live_server, admin, "policy", "edit", "--file", str(draft), "-m", "block zorblax")
    new = edited["version"]
    assert new == live["version"] + 1 and edited["previous_version"] == live["version"]
    assert [c["path"] for c in edited["changes"]] == ["block_terms.harassment"]

    # ...and the next real request is decided by the new version.
    now = cli_json(live_server, staff["moderator"], "moderate", prompt, code=1)
    assert now["decision"] == "block" and now["policy_version"] == new and "harassment" in now["categories"]
    with live_server.client("client", "t-policy") as client, pytest.raises(PromptBlocked) as blocked:
        client.submit(prompt, **TEST_PARAMS)
    assert "harassment" in blocked.value.categories

    changes = cli_json(live_server, admin, "audit", "search", "--type", "admin.policy_changed")["events"]
    assert changes[-1]["payload"]["version"] == new and changes[-1]["payload"]["comment"] == "block zorblax"
    assert changes[-1]["actor"] == key_id(live_server, admin)
    diff = cli_json(live_server, admin, "policy", "diff", str(live["version"]), str(new))
    assert diff["changes"][0]["path"] == "block_terms.harassment" and "zorblax" in diff["unified_diff"]
    history = cli_json(live_server, admin, "policy", "history")
    assert [h["version"] for h in history[:2]] == [new, live["version"]] and history[0]["live"]

    # $EDITOR: a scripted editor removes the term again -> another new version (never an edit in place).
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import json, sys\np = sys.argv[1]\nd = json.load(open(p))\n"
        "d['block_terms']['harassment'].remove('zorblax quendril')\njson.dump(d, open(p, 'w'))\n"
    )
    result = cli(
        live_server, admin, "policy", "edit", "-m", "unblock", env={"EDITOR": f"{sys.executable} {editor}"}
    )
    assert result.exit_code == 0, result.stderr
    assert cli(live_server, staff["moderator"], "moderate", prompt).exit_code == 0
    rolled = cli_json(live_server, admin, "policy", "rollback", str(new), "-m", "block it again")
    assert rolled["version"] == new + 2 and rolled["live"]
    assert cli_json(live_server, admin, "moderate", prompt, code=1)["policy_version"] == new + 2
    restored = cli_json(live_server, admin, "policy", "rollback", str(live["version"]))
    same = cli_json(live_server, admin, "policy", "diff", str(live["version"]), str(restored["version"]))
    assert same["changes"] == []

    # Refused, and nothing made: an invalid document (exit 2), an unchanged one (no new version),
    # and a change based on a version that is no longer live (exit 1 / Aborted).
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**document, "thresholds": {"no-such-category": {"review": 0.5}}}))
    invalid = cli(live_server, admin, "policy", "edit", "--file", str(bad))
    assert invalid.exit_code == 2 and "no-such-category" in invalid.stderr
    unchanged = tmp_path / "same.json"
    unchanged.write_text(json.dumps(live["document"]))  # the document `restored` brought back
    assert cli(live_server, admin, "policy", "edit", "--file", str(unchanged)).exit_code == 0
    from veriframe.service.client import Aborted
    from veriframe.service.client.admin import AdminClient

    with AdminClient(live_server.address, api_key=admin) as sdk, pytest.raises(Aborted):
        sdk.update_policy(document, base_version=new)
    assert cli_json(live_server, admin, "policy", "show")["version"] == restored["version"]


def test_policy_that_would_switch_moderation_off_is_refused(
    live_server: Any, staff: dict[str, str], tmp_path: Path
) -> None:
    """Fail closed: a document without a review and block threshold for every category (`{}` included)
    or one that weakens the always-on sexual/minors block is refused, and moderation stays on."""
    from veriframe.service.client import InvalidArgument
    from veriframe.service.client.admin import AdminClient

    admin = staff["admin"]
    live = cli_json(live_server, admin, "policy", "show")
    document = json.loads(json.dumps(live["document"]))
    no_weapons = {**document, "thresholds": {c: t for c, t in document["thresholds"].items()
                                             if c != "illegal/weapons"}}
    half = {**document, "thresholds": {**document["thresholds"], "hate": {"review": 0.5, "block": None}}}
    inverted = {**document, "thresholds": {**document["thresholds"],
                                           "violence": {"review": 0.9, "block": 0.2}}}
    minors_off = {**document, "thresholds": {**document["thresholds"],
                                             "sexual/minors": {"review": 1.0, "block": 1.0}}}
    masked = {**document, "allow_phrases": [*document.get("allow_phrases", []), "school girl"]}
    cases = [({}, "thresholds.sexual.review"), (no_weapons, "thresholds.illegal/weapons.review"),
             (half, "thresholds.hate.block"), (inverted, "thresholds.violence"),
             (minors_off, "thresholds.sexual/minors.review"), (masked, "allow_phrases[")]
    for i, (bad, field) in enumerate(cases):
        path = tmp_path / f"bad{i}.json"
        path.write_text(json.dumps(bad))
        refused = cli(live_server, admin, "policy", "edit", "--file", str(path))
        assert refused.exit_code == 2 and field in refused.stderr, (field, refused.stderr)
    with AdminClient(live_server.address, api_key=admin) as sdk, pytest.raises(InvalidArgument) as error:
        sdk.update_policy({})
    assert error.value.code.name == "INVALID_ARGUMENT" and error.value.field == "thresholds.sexual.review"
    # A draft in a dry run is held to the same rule.
    draft = tmp_path / "bad0.json"
    dry = cli(live_server, staff["moderator"], "moderate", HARMFUL, "--policy-file", str(draft))
    assert dry.exit_code == 2 and "thresholds.sexual.review" in dry.stderr

    # Nothing changed: the live policy is the same version and still blocks a weapons prompt.
    assert cli_json(live_server, admin, "policy", "show")["version"] == live["version"]
    decided = cli_json(live_server, staff["moderator"], "moderate", HARMFUL, code=1)
    assert decided["decision"] == "block" and decided["policy_version"] == live["version"]
    with live_server.client("client", "t-fail-closed") as client, pytest.raises(PromptBlocked):
        client.submit(HARMFUL, **TEST_PARAMS)


def test_revoked_key_stops_working_at_once(live_server: Any, staff: dict[str, str]) -> None:
    from veriframe.service.client import Client

    made = cli_json(
        live_server,
        staff["admin"],
        "keys",
        "create",
        "--role",
        "client",
        "--tenant",
        "t-revoke",
        "--name",
        "ci bot",
    )
    secret, kid = made["secret"], made["key"]["id"]
    assert made["key"]["role"] == "client" and secret.startswith(f"vf_{made['key']['prefix']}_")
    listed = cli_json(live_server, staff["admin"], "keys", "list", "--tenant", "t-revoke")
    assert [(k["id"], k["created_by"]) for k in listed] == [(kid, key_id(live_server, staff["admin"]))]
    assert secret not in json.dumps(listed)  # the secret is shown once only

    with Client(live_server.address, secret) as client:
        client.list_jobs()
        assert cli(live_server, staff["admin"], "keys", "revoke", kid).exit_code == 0
        with pytest.raises(Unauthenticated):
            client.list_jobs()
    assert cli_json(live_server, staff["admin"], "keys", "list", "--tenant", "t-revoke") == []
    revoked = cli_json(live_server, staff["admin"], "keys", "list", "--tenant", "t-revoke", "--all")
    assert revoked[0]["revoked"] is True
    types = [
        e["event_type"]
        for e in cli_json(live_server, staff["admin"], "audit", "search", "--tenant", "t-revoke")["events"]
    ]
    assert types == ["admin.key_created", "admin.key_revoked"]
    assert cli(live_server, staff["admin"], "keys", "revoke", "no-such-key").exit_code == 1


def test_stats_search_and_export(live_server: Any, staff: dict[str, str], tmp_path: Path) -> None:
    with live_server.client("client", "t-stats") as client:
        with pytest.raises(PromptBlocked):
            client.submit(HARMFUL, **TEST_PARAMS)
        client.submit(REVIEWED, **TEST_PARAMS)
    stats = cli_json(live_server, staff["moderator"], "stats", "--tenant", "t-stats", "--since", "1h")
    assert (stats["requests"], stats["blocked"], stats["reviewed"], stats["review_backlog"]) == (2, 1, 1, 1)
    assert sum(stats["blocks_by_category"].values()) >= 1
    assert cli(live_server, staff["moderator"], "stats").exit_code == 0

    blocks = cli_json(
        live_server, staff["moderator"], "audit", "search", "--tenant", "t-stats", "--decision", "block"
    )["events"]
    assert len(blocks) == 1 and blocks[0]["payload"]["decision"] == "block"
    everything = cli_json(live_server, staff["moderator"], "audit", "search", "--tenant", "t-stats")["events"]
    out = tmp_path / "audit.jsonl"
    assert (
        cli(
            live_server, staff["moderator"], "audit", "export", "--tenant", "t-stats", "-o", str(out)
        ).exit_code
        == 0
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [e["seq"] for e in lines] == [e["seq"] for e in everything] and len(lines) >= 5
    shown = cli_json(live_server, staff["moderator"], "audit", "show", str(lines[0]["seq"]))
    assert shown["leaf_hash"] == lines[0]["leaf_hash"]
    page = cli_json(live_server, staff["moderator"], "audit", "search", "--tenant", "t-stats", "--limit", "2")
    rest = cli_json(
        live_server,
        staff["moderator"],
        "audit",
        "search",
        "--tenant",
        "t-stats",
        "--after",
        page["next_after"],
    )
    assert [e["seq"] for e in page["events"] + rest["events"]] == [e["seq"] for e in everything]
    assert cli(live_server, staff["moderator"], "audit", "show", "999999").exit_code == 1
    assert cli(live_server, staff["moderator"], "audit", "search", "--since", "yesterday-ish").exit_code == 2


def test_usage_and_connection_errors(live_server: Any, staff: dict[str, str]) -> None:
    runner = CliRunner()
    assert (
        runner.invoke(
            app, ["review", "list"], env={"VERIFRAME_SERVER": "", "VERIFRAME_API_KEY": ""}
        ).exit_code
        == 2
    )
    closed = runner.invoke(
        app, ["--server", "127.0.0.1:1", "--api-key", staff["moderator"], "--timeout", "3", "review", "list"]
    )
    assert closed.exit_code == 2 and "unavailable" in closed.stderr
    wrong = cli(live_server, "vf_000000000000_nope", "review", "list")
    assert wrong.exit_code == 3 and "UNAUTHENTICATED" in wrong.stderr


def test_stats_refuses_an_impossible_time_range() -> None:
    """Checked before any call: a range that cannot hold anything is a usage error, not zero counts."""
    base = ["--server", "127.0.0.1:1", "--api-key", "vf_000000000000_x", "stats"]
    for args, message in [(["--since", "2999-01-01"], "is in the future"),
                          (["--since", "2026-01-02", "--until", "2026-01-01"], "must be later than --since"),
                          (["--since", "2026-01-01", "--until", "2026-01-01"], "must be later than --since")]:
        result = CliRunner().invoke(app, [*base, *args])
        assert result.exit_code == 2 and message in result.stderr, (args, result.stderr)


def _admin_methods() -> list[Any]:
    return list(admin_pb2.DESCRIPTOR.services_by_name["ModerationAdmin"].methods)


def _raw_call(channel: grpc.Channel, method: Any, key: str) -> grpc.StatusCode:
    """Call one ModerationAdmin RPC with an empty request; the status code it ends with."""
    from google.protobuf import message_factory

    request = message_factory.GetMessageClass(method.input_type)()
    response = message_factory.GetMessageClass(method.output_type)
    path = f"/{method.containing_service.full_name}/{method.name}"
    kind = channel.unary_stream if method.server_streaming else channel.unary_unary
    call = kind(
        path, request_serializer=lambda m: m.SerializeToString(), response_deserializer=response.FromString
    )
    try:
        result = call(request, metadata=(("authorization", f"Bearer {key}"),), timeout=30)
        if method.server_streaming:
            list(result)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("role", ["client", "verifier", "moderator", "admin"])
def test_every_admin_rpc_by_role(live_server: Any, role: str) -> None:
    """Non-staff: PERMISSION_DENIED everywhere. Staff: the role matrix, and even an empty request
    ends in a proper status (OK, NOT_FOUND, INVALID_ARGUMENT...), never INTERNAL."""
    from veriframe.service.auth import ROLE_MATRIX

    secret = live_server.key(role, "t-roles")
    codes = {}
    with grpc.insecure_channel(live_server.address) as channel:
        for method in _admin_methods():
            codes[method.name] = _raw_call(channel, method, secret)
    assert len(codes) == 23
    for name, code in codes.items():
        if role in ROLE_MATRIX[f"/veriframe.v1.ModerationAdmin/{name}"]:
            assert code in (
                grpc.StatusCode.OK,
                grpc.StatusCode.NOT_FOUND,
                grpc.StatusCode.INVALID_ARGUMENT,
            ), (name, code)
        else:
            assert code == grpc.StatusCode.PERMISSION_DENIED, (name, code)
    # Transparency is for anyone holding a key: the log's checkpoint and consistency proofs, and
    # relaying a witness's cosignature (an empty one is refused as such, not for the role).
    public = {"GetLatestCheckpoint", "GetConsistencyProof", "AddCosignature"}
    assert {codes[name] for name in public - {"AddCosignature"}} == {grpc.StatusCode.OK}
    assert codes["AddCosignature"] == grpc.StatusCode.INVALID_ARGUMENT
    if role in ("client", "verifier"):
        others = {code for name, code in codes.items() if name not in public}
        assert others == {grpc.StatusCode.PERMISSION_DENIED}


def test_moderator_is_refused_admin_only_rpcs(live_server: Any, staff: dict[str, str]) -> None:
    from veriframe.service.client import PermissionDenied
    from veriframe.service.client.admin import AdminClient

    with AdminClient(live_server.address, api_key=staff["moderator"]) as admin:
        for call in (
            lambda: admin.update_policy({}),
            lambda: admin.rollback_policy(1),
            lambda: admin.create_api_key(role="client", tenant="x"),
            lambda: admin.list_api_keys(),
            lambda: admin.revoke_api_key("x"),
        ):
            with pytest.raises(PermissionDenied):
                call()
        assert admin.get_policy().live and admin.stats().review_backlog >= 0  # reads are allowed


CLI_COMMANDS = [
    ["review", "list"],
    ["review", "show", "r"],
    ["review", "approve", "r"],
    ["review", "reject", "r", "--reason", "x"],
    ["policy", "show"],
    ["policy", "diff", "1"],
    ["policy", "history"],
    ["policy", "rollback", "1"],
    ["keys", "create", "--role", "client", "--tenant", "x"],
    ["keys", "list"],
    ["keys", "revoke", "k"],
    ["audit", "search"],
    ["audit", "show", "0"],
    ["audit", "export"],
    ["audit", "checkpoint", "--create"],
    ["audit", "verify"],
    ["audit", "proof", "0"],
    ["stats"],
    ["moderate", "a cat"],
]


def test_a_client_key_cannot_use_any_admin_command(live_server: Any, tmp_path: Path) -> None:
    secret = live_server.key("client", "t-denied")
    draft = tmp_path / "p.json"
    draft.write_text("{}")
    for args in [*CLI_COMMANDS, ["policy", "edit", "--file", str(draft)]]:
        result = cli(live_server, secret, *args)
        assert result.exit_code == 3, (args, result.exit_code, result.stdout, result.stderr)
        assert "PERMISSION_DENIED" in result.stderr
    # Only the log's public face is open to it: the latest signed checkpoint, to hold the log to account.
    out = tmp_path / "latest.checkpoint"
    public = cli(live_server, secret, "audit", "checkpoint", "--out", str(out))
    assert public.exit_code == 0, public.stderr
    assert out.read_text().startswith("veriframe.ledger/")


def _tamper(url: str, seq: int) -> int:
    """What an attacker with write access to the database does: switch off the append-only triggers
    (SQLite: drop them; PostgreSQL: a superuser disables them) and rewrite one event's payload."""
    from veriframe.service.db import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as db:
            if engine.dialect.name == "sqlite":
                triggers = db.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type='trigger' AND tbl_name='audit_events'"
                ).scalars()
                for name in list(triggers):
                    db.exec_driver_sql(f'DROP TRIGGER "{name}"')
                sql = "UPDATE audit_events SET payload = json_set(payload, '$.role', 'admin') WHERE seq = ?"
            else:
                db.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
                sql = (
                    "UPDATE audit_events SET payload = "
                    "jsonb_set(payload::jsonb, '{role}', '\"admin\"')::json WHERE seq = %s"
                )
            return db.exec_driver_sql(sql, (seq,)).rowcount
    finally:
        engine.dispose()


def test_audit_verify_passes_then_detects_a_row_edited_in_the_database(
    make_live_server: Any, db_url: str, service_keys_dir: Path
) -> None:
    """On SQLite and PostgreSQL (this also runs the admin queries, JSON filters included, on both)."""
    live = make_live_server(database_url=db_url, workers=0)
    admin = live.key("admin", "staff")
    made = cli_json(live, admin, "keys", "create", "--role", "client", "--tenant", "t-audit")
    keys = cli_json(live, admin, "keys", "list", "--tenant", "t-audit")
    assert [k["created_by"] for k in keys] == [key_id(live, admin)]
    with live.client("client", "t-audit") as client, pytest.raises(PromptBlocked):
        client.submit(HARMFUL, **TEST_PARAMS)
    blocks = cli_json(live, admin, "audit", "search", "--decision", "block", "--tenant", "t-audit")["events"]
    assert len(blocks) == 1
    assert cli_json(live, admin, "stats", "--tenant", "t-audit")["blocked"] == 1
    checkpoint = cli_json(live, admin, "audit", "checkpoint", "--create")
    assert int(checkpoint["tree_size"]) >= 5
    public_key = str(service_keys_dir / "ledger-pub.pem")

    ok = cli_json(live, admin, "audit", "verify")
    assert ok["ok"] is True and int(ok["checkpoints_checked"]) >= 1
    local = CliRunner().invoke(app, ["audit", "verify", "--database", db_url, "--public-key", public_key])
    assert local.exit_code == 0, local.stdout
    keys_dir = ["audit", "verify", "--database", db_url, "--keys", str(service_keys_dir)]
    assert CliRunner().invoke(app, keys_dir).exit_code == 0
    unsigned = CliRunner().invoke(app, ["audit", "verify", "--database", db_url])  # no key: not "intact"
    assert unsigned.exit_code == 1 and "checkpoint(s) not checked" in unsigned.stdout, unsigned.stdout
    seq = next(
        e["seq"]
        for e in cli_json(
            live, admin, "audit", "search", "--type", "admin.key_created", "--tenant", "t-audit"
        )["events"]
        if e["payload"]["key_id"] == made["key"]["id"]
    )
    proof = cli_json(live, admin, "audit", "proof", str(seq), "--public-key", public_key)
    assert proof["ok"] and proof["checkpoint_ok"] and proof["path_ok"]

    assert _tamper(db_url, seq) == 1

    bad = cli(live, admin, "audit", "verify")
    assert bad.exit_code == 1 and "TAMPERED" in bad.stdout and f"seq {seq}" in bad.stdout
    assert cli_json(live, admin, "audit", "verify", code=1)["ok"] is False
    offline = CliRunner().invoke(app, ["audit", "verify", "--database", db_url, "--public-key", public_key])
    assert offline.exit_code == 1 and f"seq {seq}" in offline.stdout


def _pki(directory: Path) -> dict[str, Path]:
    """A throwaway CA, a server certificate for 127.0.0.1 and a client certificate (mutual TLS)."""
    import datetime as dt
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = dt.datetime.now(dt.timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, usage: Any = None) -> Any:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if usage is not None:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if usage == ExtendedKeyUsageOID.SERVER_AUTH:
            san = x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))])
            builder = builder.add_extension(san, critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    paths: dict[str, Path] = {}

    def save(label: str, cert: Any, key: Any) -> None:
        paths[label] = directory / f"{label}.pem"
        paths[label].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths[f"{label}-key"] = directory / f"{label}-key.pem"
        paths[f"{label}-key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )

    ca_key = ec.generate_private_key(ec.SECP256R1())
    save("ca", issue("test CA", ca_key, "test CA", ca_key, ca=True), ca_key)
    for label, usage in (
        ("server", ExtendedKeyUsageOID.SERVER_AUTH),
        ("client", ExtendedKeyUsageOID.CLIENT_AUTH),
    ):
        key = ec.generate_private_key(ec.SECP256R1())
        save(label, issue(label, key, "test CA", ca_key, ca=False, usage=usage), key)
    return paths


def test_cli_over_mutual_tls(make_live_server: Any, tmp_path: Path) -> None:
    pki = _pki(tmp_path)
    live = make_live_server(
        workers=0, tls_cert=pki["server"], tls_key=pki["server-key"], tls_client_ca=pki["ca"]
    )
    moderator = live.key("moderator", "staff")
    tls = ["--tls-ca", str(pki["ca"]), "--tls-cert", str(pki["client"]), "--tls-key", str(pki["client-key"])]
    runner = CliRunner()
    base = ["--server", live.address, "--api-key", moderator, "--timeout", "5"]
    ok = runner.invoke(app, [*base, *tls, "stats", "--json"])
    assert ok.exit_code == 0, ok.stderr
    assert json.loads(ok.stdout)["review_backlog"] == 0
    no_client_cert = runner.invoke(app, [*base, "--tls-ca", str(pki["ca"]), "stats"])
    assert no_client_cert.exit_code == 2 and "unavailable" in no_client_cert.stderr
    plaintext = runner.invoke(app, [*base, "stats"])
    assert plaintext.exit_code == 2
    half = runner.invoke(app, [*base, "--tls-cert", str(pki["client"]), "stats"])
    assert half.exit_code == 2 and "go together" in half.stderr


def test_review_expires_after_the_policys_ttl(live_server: Any, staff: dict[str, str]) -> None:
    """How long a held prompt waits is moderation policy: a new version's `review_ttl_seconds` applies
    to the next review, and an expired review rejects the job with a ledger record."""
    from datetime import datetime, timedelta

    from veriframe.service.client.admin import AdminClient
    from veriframe.service.clock import utcnow

    with AdminClient(live_server.address, api_key=staff["admin"]) as sdk:
        document = json.loads(sdk.get_policy().document_json)
        sdk.update_policy({**document, "review_ttl_seconds": 60}, comment="one-minute reviews")
    with live_server.client("client", "t-expire") as client:
        before = utcnow()
        job = client.submit(REVIEWED, **TEST_PARAMS).job
        assert job.state == common_pb2.JOB_STATE_REVIEW
        shown = cli_json(live_server, staff["moderator"], "review", "show", job.review_id)
        expires = datetime.fromisoformat(shown["expires_at"].replace("Z", "+00:00"))
        assert timedelta(seconds=55) <= expires - before <= timedelta(seconds=65)

        assert live_server.ctx.workflow.expire_reviews(utcnow()) == []  # not yet
        assert live_server.ctx.workflow.expire_reviews(utcnow() + timedelta(minutes=2)) == [job.review_id]
        final = client.get_job(job.id)
        assert final.state == common_pb2.JOB_STATE_REJECTED and final.error.code == "REVIEW_EXPIRED"
    events = cli_json(live_server, staff["moderator"], "audit", "search", "--job", job.id)["events"]
    assert [e["event_type"] for e in events][-1] == "review.expired"


def test_keys_list_is_readable_at_80_columns(live_server: Any, staff: dict[str, str]) -> None:
    admin = staff["admin"]
    made = cli_json(live_server, admin, "keys", "create", "--role", "moderator", "--tenant", "t-narrow")
    args = ["--server", live_server.address, "--api-key", admin, "keys", "list", "--tenant", "t-narrow"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stdout
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert made["key"]["id"] in result.stdout and made["key"]["prefix"] in result.stdout  # whole, not "…"
    assert "moderator" in result.stdout and "…" not in result.stdout


def test_connection_options_work_after_the_sub_command(live_server: Any, staff: dict[str, str]) -> None:
    from veriframe.service.cli.admin import hoist_connection_options

    key = "--api-key=" + staff["admin"]
    args = ["keys", "list", "--tenant", "t-after", "--server", live_server.address, key, "--tls-ca", "ca.pem",
            "--json"]
    assert hoist_connection_options(args) == [
        "--server", live_server.address, key, "--tls-ca", "ca.pem",
        "keys", "list", "--tenant", "t-after", "--json",
    ]
    result = CliRunner().invoke(app, hoist_connection_options([*args[:-3], "--json"]), env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout) == []
