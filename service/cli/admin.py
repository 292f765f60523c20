"""`veriframe-admin`: the moderation admin tool.

A client of the service's ModerationAdmin API through the SDK (`veriframe.service.client.admin`), with a
moderator or admin key. Every action it takes is recorded in the server's ledger. People get Rich
tables; scripts pass `--json`. `audit verify --database URL` also works offline on the database.

Exit codes (docs/admin.md):
  0  ok
  1  a negative result: not found, verification failed, a dry run that would not allow, a review
     already decided, a concurrent policy change
  2  usage error, unreadable input, server unreachable or failing
  3  permission denied or authentication failed (wrong, revoked or under-privileged key)

Heavy imports (the SDK, grpc, sqlalchemy) happen inside commands so `--help` is instant.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from veriframe.service.cli import connection
from veriframe.service.clock import aware, utcnow

if TYPE_CHECKING:
    from rich.console import Console

    from veriframe.service.client.admin import AdminClient

EXIT_OK, EXIT_NEGATIVE, EXIT_USAGE, EXIT_DENIED = 0, 1, 2, 3

app = typer.Typer(
    name="veriframe-admin",
    help="Moderation admin tool: review queue, policies, API keys, audit log and stats. "
         "Exit codes: 0 ok, 1 negative result (not found, verification failed, would not allow), "
         "2 usage or connection error, 3 permission denied.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
review_app = typer.Typer(help="The review queue: prompts held for a moderator.", no_args_is_help=True)
policy_app = typer.Typer(help="The moderation policy: every change makes a new version.",
                         no_args_is_help=True)
keys_app = typer.Typer(help="API keys (admin only): the secret is shown once.", no_args_is_help=True)
audit_app = typer.Typer(help="The tamper-evident audit ledger.", no_args_is_help=True)
app.add_typer(review_app, name="review")
app.add_typer(policy_app, name="policy")
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
policy_app.add_typer(__import__("veriframe.service.cli.faces", fromlist=["app"]).app, name="faces")

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


# ------------------------------------------------------------------------------- connection options

@dataclass
class Connection:
    server: str | None
    api_key: str | None
    tls: bool
    tls_ca: Path | None
    tls_cert: Path | None
    tls_key: Path | None
    timeout: float
    server_from_command_line: bool = False


# The connection options (flag -> takes a value). They belong to the top-level command, so
# `hoist_connection_options` moves any given after the sub-command to the front before click parses.
CONNECTION_FLAGS = {"--server": True, "--api-key": True, "--tls": False, "--tls-ca": True,
                    "--tls-cert": True, "--tls-key": True, "--timeout": True}


def hoist_connection_options(args: list[str]) -> list[str]:
    """`review list --server X` -> `--server X review list` (both orders work for people)."""
    front: list[str] = []
    rest: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--":
            rest += args[index:]
            break
        flag = arg.split("=", 1)[0]
        if flag in CONNECTION_FLAGS:
            takes_value = CONNECTION_FLAGS[flag] and "=" not in arg
            front += args[index : index + 1 + takes_value]
            index += 1 + takes_value
            continue
        rest.append(arg)
        index += 1
    return front + rest


def run() -> None:
    """The `veriframe-admin` console script."""
    app(args=hoist_connection_options(sys.argv[1:]), prog_name="veriframe-admin")


@app.callback()
def main(
    ctx: typer.Context,
    server: str | None = connection.server("Server address host:port."),
    api_key: str | None = connection.api_key("Moderator or admin API key."),
    tls: bool = connection.tls(),
    tls_ca: Path | None = connection.tls_ca(),
    tls_cert: Path | None = connection.tls_cert(),
    tls_key: Path | None = connection.tls_key(),
    timeout: float = typer.Option(30.0, "--timeout", min=0.1, help="Seconds per call."),
) -> None:
    """Connection options go before or after the command: veriframe-admin review list --server HOST:PORT."""
    from click.core import ParameterSource

    source = ctx.get_parameter_source("server")
    ctx.obj = Connection(server, api_key, tls, tls_ca, tls_cert, tls_key, timeout,
                         server_from_command_line=source == ParameterSource.COMMANDLINE)


def _fail(code: int, message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _client(ctx: typer.Context) -> AdminClient:
    from veriframe.service.client.admin import AdminClient

    conn: Connection = ctx.find_root().obj
    if not conn.server:
        _fail(EXIT_USAGE, "no server: pass --server HOST:PORT or set VERIFRAME_SERVER")
    if not conn.api_key:
        _fail(EXIT_USAGE, "no API key: pass --api-key or set VERIFRAME_API_KEY")
    problem = connection.missing_tls_file(conn.tls_ca, conn.tls_cert, conn.tls_key)
    if problem:
        _fail(EXIT_USAGE, problem)
    try:
        return AdminClient(conn.server, api_key=conn.api_key, tls=conn.tls, tls_ca=conn.tls_ca,
                           tls_cert=conn.tls_cert, tls_key=conn.tls_key, timeout=conn.timeout)
    except (OSError, ValueError) as error:
        _fail(EXIT_USAGE, str(error))


@contextlib.contextmanager
def _calling(ctx: typer.Context) -> Iterator[AdminClient]:
    """A client, with every SDK error turned into its message and exit code."""
    from veriframe.service.client import errors as E

    client = _client(ctx)
    try:
        yield client
    except (E.PermissionDenied, E.Unauthenticated) as error:
        _fail(EXIT_DENIED, f"{error.message} ({error.code.name if error.code else 'denied'})")
    except (E.NotFound, E.FailedPrecondition, E.Aborted) as error:
        _fail(EXIT_NEGATIVE, error.message)
    except E.InvalidArgument as error:
        _fail(EXIT_USAGE, error.message)
    except E.Unavailable as error:
        _fail(EXIT_USAGE, f"server {ctx.find_root().obj.server} unavailable: {error.message}")
    except E.VeriframeError as error:
        _fail(EXIT_USAGE, f"{error.message} ({error.code.name if error.code else 'error'})")
    finally:
        client.close()


# ------------------------------------------------------------------------------------- output helpers

def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def _as_dict(message: Any) -> dict[str, Any]:
    from veriframe.service.client.admin import message_to_dict

    return message_to_dict(message)


def _dt(stamp: Any) -> datetime | None:
    """A protobuf Timestamp (unset: None) as an aware datetime."""
    if stamp is None or (stamp.seconds == 0 and stamp.nanos == 0):
        return None
    return stamp.ToDatetime(tzinfo=timezone.utc)


def _when(stamp: Any) -> str:
    moment = _dt(stamp)
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%SZ")


def _age(stamp: Any) -> str:
    moment = _dt(stamp)
    if moment is None:
        return ""
    seconds = max(0, int((utcnow() - moment).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _scores(scores: Any, top: int = 3) -> str:
    best = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return ", ".join(f"{k} {v:.2f}" for k, v in best)


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time(value: str | None, option: str) -> datetime | None:
    """ISO 8601 (date or date-time; UTC unless it says otherwise) or an age like 30m, 24h, 7d."""
    if not value:
        return None
    match = _RELATIVE.match(value.strip())
    if match:
        return utcnow() - timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        _fail(EXIT_USAGE, f"{option} {value!r}: use ISO 8601 (2026-11-24, 2026-11-24T18:00) "
                          "or an age (24h, 7d)")
    return aware(moment)


_REVIEW_STATE = {1: "pending", 2: "approved", 3: "rejected", 4: "expired"}


def _review_state(value: int) -> str:
    return _REVIEW_STATE.get(value, "?")


def _job_state(value: int) -> str:
    from veriframe.service.api.gen import common_pb2

    return common_pb2.JobState.Name(value).removeprefix("JOB_STATE_")


# ------------------------------------------------------------------------------------------ review

def _review_table(reviews: list[Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in ("review id", "age", "state", "tenant", "requester", "categories", "scores", "prompt"):
        table.add_column(column, no_wrap=column == "review id", overflow="ellipsis")
    for r in reviews:
        table.add_row(r.id, _age(r.created_at), _review_state(r.state), r.tenant, r.requester_key_id[:8],
                      ", ".join(r.categories), _scores(r.scores), _short(r.prompt or "(purged)", 50))
    return table


def _show_review(r: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [("review", r.id), ("state", _review_state(r.state)),
            ("job", f"{r.job_id} ({_job_state(r.job_state)})"), ("tenant", r.tenant),
            ("requester key", r.requester_key_id), ("categories", ", ".join(r.categories)),
            ("scores", _scores(r.scores, top=len(r.scores))), ("rule", r.rule or "-"),
            ("policy version", str(r.policy_version)),
            ("created", f"{_when(r.created_at)} ({_age(r.created_at)} ago)"),
            ("expires", _when(r.expires_at))]
    if r.decided_by:
        rows += [("decided by", r.decided_by), ("decided at", _when(r.decided_at)),
                 ("reason", r.reason or "-")]
    for key, value in rows:
        grid.add_row(key, value)
    console = _console()
    console.print(grid)
    console.print(Panel(r.prompt or "(the prompt text was purged by the retention policy)", title="prompt"))
    if r.negative_prompt:
        console.print(Panel(r.negative_prompt, title="negative prompt"))


@review_app.command("list")
def review_list(
    ctx: typer.Context,
    state: list[str] = typer.Option([], "--state", help="pending (default), approved, rejected, expired; "
                                                          "repeat for several."),
    tenant: str = typer.Option("", "--tenant", help="Only this tenant."),
    limit: int = typer.Option(100, "--limit", min=1, help="At most this many."),
    as_json: bool = JSON_OPTION,
) -> None:
    """The review queue, oldest first: prompt, categories, scores, requester and age."""
    import itertools

    with _calling(ctx) as client:
        try:
            reviews = list(itertools.islice(client.iter_reviews(states=state, tenant=tenant), limit))
        except ValueError as error:
            _fail(EXIT_USAGE, str(error))
    if as_json:
        _print_json([_as_dict(r) for r in reviews])
        return
    states = ", ".join(state) or "pending"
    _console().print(_review_table(reviews, f"{len(reviews)} review(s): {states}"))


@review_app.command("show")
def review_show(ctx: typer.Context, review_id: str = typer.Argument(..., help="Review id."),
                as_json: bool = JSON_OPTION) -> None:
    """One review in full: prompt, scores, the rule that fired, and the decision if made."""
    with _calling(ctx) as client:
        review = client.get_review(review_id)
    if as_json:
        _print_json(_as_dict(review))
    else:
        _show_review(review)


@review_app.command("approve")
def review_approve(ctx: typer.Context, review_id: str = typer.Argument(..., help="Review id."),
                   reason: str = typer.Option("", "--reason", help="Why (kept in the ledger)."),
                   as_json: bool = JSON_OPTION) -> None:
    """Approve: the held job is queued and generated. Recorded as review.approved."""
    with _calling(ctx) as client:
        review = client.approve_review(review_id, reason)
    if as_json:
        _print_json(_as_dict(review))
    else:
        typer.echo(f"approved review {review.id}: job {review.job_id} is {_job_state(review.job_state)}")


@review_app.command("reject")
def review_reject(ctx: typer.Context, review_id: str = typer.Argument(..., help="Review id."),
                  reason: str = typer.Option(..., "--reason", help="Shown to the requester; required."),
                  as_json: bool = JSON_OPTION) -> None:
    """Reject: the job ends REJECTED and the requester sees the reason. Recorded as review.rejected."""
    if not reason.strip():
        _fail(EXIT_USAGE, "--reason must not be empty (the requester is shown it)")
    with _calling(ctx) as client:
        review = client.reject_review(review_id, reason)
    if as_json:
        _print_json(_as_dict(review))
    else:
        typer.echo(f"rejected review {review.id}: job {review.job_id} is {_job_state(review.job_state)}")


# ------------------------------------------------------------------------------------------ policy

def _load_document(path: Path) -> dict[str, Any]:
    """A policy document from a .json or .yaml/.yml file (exit 2 if unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        _fail(EXIT_USAGE, f"cannot read {path}: {error.strerror}")
    return _parse_document(text, yaml_syntax=path.suffix.lower() in (".yaml", ".yml"), source=str(path))


def _parse_document(text: str, *, yaml_syntax: bool, source: str) -> dict[str, Any]:
    try:
        if yaml_syntax:
            import yaml

            document = yaml.safe_load(text)
        else:
            document = json.loads(text)
    except Exception as error:  # yaml.YAMLError / json.JSONDecodeError: say where
        _fail(EXIT_USAGE, f"{source} is not valid {'YAML' if yaml_syntax else 'JSON'}: {error}")
    if not isinstance(document, dict):
        _fail(EXIT_USAGE, f"{source}: a policy document is a mapping (JSON object)")
    return document


def _edit_in_editor(document: dict[str, Any], yaml_syntax: bool) -> dict[str, Any] | None:
    """Open $VISUAL/$EDITOR on the document; None when it comes back unchanged."""
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        _fail(EXIT_USAGE, "set $EDITOR (or pass --file FILE)")
    if yaml_syntax:
        import yaml

        text = yaml.safe_dump(document, sort_keys=True, allow_unicode=True)
    else:
        text = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    with tempfile.TemporaryDirectory(prefix="veriframe-policy-") as tmp:
        path = Path(tmp) / ("policy.yaml" if yaml_syntax else "policy.json")
        path.write_text(text, encoding="utf-8")
        result = subprocess.run([*shlex.split(editor), str(path)], check=False)
        if result.returncode != 0:
            _fail(EXIT_USAGE, f"the editor exited with status {result.returncode}; nothing changed")
        edited = path.read_text(encoding="utf-8")
    if edited == text:
        return None
    return _parse_document(edited, yaml_syntax=yaml_syntax, source="the edited policy")


def _policy_summary(p: Any) -> None:
    from rich.table import Table

    document = json.loads(p.document_json)
    console = _console()
    live = " (live)" if p.live else ""
    console.print(f"[bold]policy v{p.version}{live}[/bold]  by {p.created_by or '-'}  {_when(p.created_at)}"
                  f"  {p.comment or ''}")
    thresholds = Table(title="classifier thresholds")
    for column in ("category", "review at", "block at", "block terms", "review terms", "block patterns"):
        thresholds.add_column(column)
    categories = sorted(set(document.get("thresholds", {})) | set(document.get("block_terms", {}))
                        | set(document.get("review_terms", {})) | set(document.get("block_patterns", {})))
    for cat in categories:
        t = document.get("thresholds", {}).get(cat, {})
        thresholds.add_row(cat, _fmt(t.get("review")), _fmt(t.get("block")),
                           str(len(document.get("block_terms", {}).get(cat, []))),
                           str(len(document.get("review_terms", {}).get(cat, []))),
                           str(len(document.get("block_patterns", {}).get(cat, []))))
    console.print(thresholds)
    persons = document.get("protected_persons", [])
    names = ", ".join(person["name"] for person in persons) or "none"
    console.print(f"protected persons ({len(persons)}): {names}")
    console.print(f"a plain mention of a protected person: {document.get('person_mention_action', '-')}")
    console.print("full document: veriframe-admin policy show --json, or policy edit")


def _fmt(value: Any) -> str:
    return "off" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


@policy_app.command("show")
def policy_show(ctx: typer.Context,
                version: int = typer.Option(0, "--version", "-v", min=0,
                                            help="A version (default: the live one)."),
                as_json: bool = JSON_OPTION,
                document_only: bool = typer.Option(
                    False, "--document",
                    help="Print only the policy document (JSON), e.g. to edit for policy edit --file."),
                ) -> None:
    """The policy: thresholds, block terms and patterns per category, protected persons."""
    with _calling(ctx) as client:
        policy = client.get_policy(version)
    if document_only:
        _print_json(json.loads(policy.document_json))
    elif as_json:
        data = _as_dict(policy)
        data["document"] = json.loads(data.pop("document_json"))
        _print_json(data)
    else:
        _policy_summary(policy)


@policy_app.command("edit")
def policy_edit(
    ctx: typer.Context,
    file: Path | None = typer.Option(None, "--file", "-f", help="The new document (.json, .yaml or .yml); "
                                     "without it, $EDITOR opens the live one."),
    comment: str = typer.Option("", "--comment", "-m", help="Why (kept with the version and in the ledger)."),
    yaml_syntax: bool = typer.Option(False, "--yaml", help="Edit as YAML in $EDITOR (default JSON)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Make a new policy version from a file or in $EDITOR; shows what changed.

    The change is refused (exit 1) if someone else changed the policy since it was read."""
    with _calling(ctx) as client:
        live = client.get_policy(0)
        if file is not None:
            document = _load_document(file)
            if _same_policy(document, json.loads(live.document_json)):
                typer.echo(f"no change: {file} is the live policy v{live.version}", err=True)
                return
        else:
            edited = _edit_in_editor(json.loads(live.document_json), yaml_syntax)
            if edited is None:
                typer.echo(f"no change: the live policy stays v{live.version}", err=True)
                return
            document = edited
        new = client.update_policy(document, comment=comment, base_version=live.version)
        diff = client.diff_policies(live.version, new.version)
    if as_json:
        _print_json({"version": new.version, "previous_version": live.version,
                     "changes": [_as_dict(c) for c in diff.changes]})
        return
    typer.echo(f"policy v{new.version} is live (was v{live.version}); {len(diff.changes)} change(s)")
    _print_changes(diff)


def _same_policy(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "version"} == {k: v for k, v in b.items() if k != "version"}


def _print_changes(diff: Any) -> None:
    from rich.table import Table

    if not diff.changes:
        typer.echo("the documents are the same")
        return
    table = Table(title=f"v{diff.from_version} -> v{diff.to_version}")
    for column in ("path", f"v{diff.from_version}", f"v{diff.to_version}"):
        table.add_column(column, overflow="fold")
    for change in diff.changes:
        table.add_row(change.path, change.old_json or "(absent)", change.new_json or "(absent)")
    _console().print(table)


@policy_app.command("diff")
def policy_diff(ctx: typer.Context,
                from_version: int = typer.Argument(..., min=1, help="The older version."),
                to_version: int = typer.Argument(0, min=0, help="The newer one (default: live)."),
                unified: bool = typer.Option(False, "--unified", "-u",
                                             help="A unified diff of the documents."),
                as_json: bool = JSON_OPTION) -> None:
    """What changed between two policy versions."""
    with _calling(ctx) as client:
        diff = client.diff_policies(from_version, to_version)
    if as_json:
        _print_json(_as_dict(diff))
    elif unified:
        typer.echo(diff.unified_diff or "(no differences)")
    else:
        _print_changes(diff)


@policy_app.command("history")
def policy_history(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Every policy version, newest first: who made it, when and why."""
    from rich.table import Table

    with _calling(ctx) as client:
        versions = list(client.iter_policy_versions())
    if as_json:
        _print_json([{k: v for k, v in _as_dict(p).items() if k != "document_json"} for p in versions])
        return
    table = Table(title="policy versions")
    for column in ("version", "live", "created", "by", "comment"):
        table.add_column(column)
    for p in versions:
        table.add_row(str(p.version), "*" if p.live else "", _when(p.created_at), p.created_by, p.comment)
    _console().print(table)


@policy_app.command("rollback")
def policy_rollback(ctx: typer.Context,
                    version: int = typer.Argument(..., min=1, help="The version to restore."),
                    comment: str = typer.Option("", "--comment", "-m", help="Why."),
                    as_json: bool = JSON_OPTION) -> None:
    """Restore an older version's document as a NEW version (versions are never edited)."""
    with _calling(ctx) as client:
        new = client.rollback_policy(version, comment=comment)
    if as_json:
        _print_json({k: v for k, v in _as_dict(new).items() if k != "document_json"})
    else:
        typer.echo(f"policy v{new.version} is live: the document of v{version}")


# -------------------------------------------------------------------------------------------- keys

_ROLE = {1: "client", 2: "moderator", 3: "admin", 4: "verifier"}


def _key_dict(key: Any) -> dict[str, Any]:
    data = _as_dict(key)
    data["role"] = _ROLE.get(key.role, "?")
    return data


@keys_app.command("create")
def keys_create(ctx: typer.Context,
                role: str = typer.Option(..., "--role", help="client, moderator, admin or verifier."),
                tenant: str = typer.Option(..., "--tenant", help="The tenant the key acts for."),
                name: str = typer.Option("", "--name", help="A label (who or what uses it)."),
                as_json: bool = JSON_OPTION) -> None:
    """Create an API key. The secret is printed once: store it now."""
    if role not in _ROLE.values():
        _fail(EXIT_USAGE, f"--role must be one of {', '.join(_ROLE.values())}")
    with _calling(ctx) as client:
        made = client.create_api_key(role=role, tenant=tenant, name=name)
    if as_json:
        _print_json({"key": _key_dict(made.key), "secret": made.secret})
        return
    typer.echo(f"created {role} key {made.key.id} (prefix {made.key.prefix}) for tenant {tenant}")
    typer.echo("secret (shown once, store it now):", err=True)
    typer.echo(made.secret)


@keys_app.command("list")
def keys_list(ctx: typer.Context, tenant: str = typer.Option("", "--tenant", help="Only this tenant."),
              include_revoked: bool = typer.Option(False, "--all", help="Include revoked keys."),
              as_json: bool = JSON_OPTION) -> None:
    """API keys (never their secrets): id, prefix, role, tenant, name, created, revoked."""
    with _calling(ctx) as client:
        keys = list(client.iter_api_keys(tenant=tenant, include_revoked=include_revoked))
    if as_json:
        _print_json([_key_dict(k) for k in keys])
        return
    console = _console()
    console.print(_keys_table(keys, narrow=console.width < 120))


def _keys_table(keys: list[Any], *, narrow: bool) -> Any:
    """Every column on a wide terminal; at 80 columns the ones that fit whole (ids are never cut)."""
    from rich import box
    from rich.table import Table

    if not narrow:
        table = Table(title=f"{len(keys)} API key(s)")
        for column in ("key id", "prefix", "role", "tenant", "name", "created", "created by", "revoked"):
            table.add_column(column, no_wrap=column == "key id", overflow="ellipsis")
        for k in keys:
            table.add_row(k.id, k.prefix, _ROLE.get(k.role, "?"), k.tenant, k.name, _when(k.created_at),
                          k.created_by[:8], _when(k.revoked_at) if k.revoked else "")
        return table
    table = Table(title=f"{len(keys)} API key(s); names and dates: --json or a wider terminal",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    for column in ("key id", "prefix", "role", "tenant"):
        table.add_column(column, no_wrap=column != "tenant", overflow="fold")
    table.add_column("revoked", no_wrap=True)
    for k in keys:
        table.add_row(k.id, k.prefix, _ROLE.get(k.role, "?"), k.tenant, "yes" if k.revoked else "")
    return table


@keys_app.command("revoke")
def keys_revoke(ctx: typer.Context, key_id: str = typer.Argument(..., help="Key id (see keys list)."),
                as_json: bool = JSON_OPTION) -> None:
    """Revoke a key: its next call fails, on every server, at once."""
    with _calling(ctx) as client:
        key = client.revoke_api_key(key_id)
    if as_json:
        _print_json(_key_dict(key))
    else:
        role = _ROLE.get(key.role, "?")
        typer.echo(f"revoked key {key.id} (prefix {key.prefix}, {role}, tenant {key.tenant})")


# ------------------------------------------------------------------------------------------- audit

def _audit_filters(job: str, key: str, tenant: str, event_type: list[str], decision: str, since: str | None,
                   until: str | None) -> dict[str, Any]:
    if decision and decision not in ("allow", "review", "block"):
        _fail(EXIT_USAGE, "--decision must be allow, review or block")
    return {"job_id": job, "actor": key, "tenant": tenant, "event_types": event_type, "decision": decision,
            "start": parse_time(since, "--since"), "end": parse_time(until, "--until")}


_JOB = typer.Option("", "--job", help="Events of this job id.")
_KEY = typer.Option("", "--key", help="Events by this API key id (the actor).")
_TENANT = typer.Option("", "--tenant", help="Events of this tenant.")
_TYPE = typer.Option([], "--type", help="Event type, e.g. screened, review.approved, admin.key_created; "
                                        "repeat for several.")
_DECISION = typer.Option("", "--decision", help="Screening decision: allow, review or block.")
_SINCE = typer.Option(None, "--since", help="From (ISO 8601 or an age: 30m, 24h, 7d).")
_UNTIL = typer.Option(None, "--until", help="Until, exclusive (ISO 8601 or an age).")


def _integral(value: Any) -> Any:
    """protobuf's Struct keeps every number as a double: show 3.0 as 3 (versions, counts, seeds)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _event_dict(event: Any) -> dict[str, Any]:
    data = _as_dict(event)
    data["seq"] = int(data.get("seq", 0))
    data["payload"] = _integral(data.get("payload", {}))
    return data


@audit_app.command("search")
def audit_search(ctx: typer.Context, job: str = _JOB, key: str = _KEY, tenant: str = _TENANT,
                 event_type: list[str] = _TYPE, decision: str = _DECISION, since: str | None = _SINCE,
                 until: str | None = _UNTIL, limit: int = typer.Option(100, "--limit", min=1, max=500,
                                                                        help="At most this many."),
                 after: int = typer.Option(-1, "--after", help="Only events after this seq (paging)."),
                 as_json: bool = JSON_OPTION) -> None:
    """Ledger events by job, key, tenant, type, decision and time range, oldest first."""
    from rich.table import Table

    filters = _audit_filters(job, key, tenant, event_type, decision, since, until)
    with _calling(ctx) as client:
        page = client.search_audit(**filters, page_size=limit, page_token=str(after) if after >= 0 else "")
    events = list(page.events)
    if as_json:
        _print_json({"events": [_event_dict(e) for e in events], "next_after": page.next_page_token or None})
        return
    table = Table(title=f"{len(events)} event(s)")
    for column in ("seq", "time", "type", "actor", "tenant", "job", "summary"):
        table.add_column(column, overflow="ellipsis")
    for e in events:
        table.add_row(str(e.seq), _when(e.created_at), e.event_type, e.actor[:12], e.tenant, e.job_id[:8],
                      _summary(e))
    _console().print(table)
    if page.next_page_token:
        typer.echo(f"more: --after {page.next_page_token}", err=True)


def _summary(event: Any) -> str:
    from google.protobuf.json_format import MessageToDict

    payload = _integral(MessageToDict(event.payload))
    keys = ("decision", "categories", "reason", "version", "role", "key_id", "error_code", "provenance_id")
    parts = [f"{k}={payload[k]}" for k in keys if payload.get(k) not in (None, "", [])]
    return _short(" ".join(parts), 60)


@audit_app.command("show")
def audit_show(ctx: typer.Context, seq: int = typer.Argument(..., min=0, help="Event sequence number."),
               as_json: bool = JSON_OPTION) -> None:
    """One ledger event with its full payload and leaf hash."""
    with _calling(ctx) as client:
        event = client.get_audit_event(seq)
    data = _event_dict(event)
    if as_json:
        _print_json(data)
        return
    console = _console()
    console.print(f"[bold]event {event.seq}[/bold]  {event.event_type}  {_when(event.created_at)}")
    console.print(f"actor {event.actor}  tenant {event.tenant or '-'}  job {event.job_id or '-'}")
    console.print(f"leaf hash {event.leaf_hash}")
    console.print_json(json.dumps(data.get("payload", {})))


@audit_app.command("export")
def audit_export(ctx: typer.Context, job: str = _JOB, key: str = _KEY, tenant: str = _TENANT,
                 event_type: list[str] = _TYPE, decision: str = _DECISION, since: str | None = _SINCE,
                 until: str | None = _UNTIL,
                 output: str = typer.Option("-", "--output", "-o", help="JSONL file (default: stdout)."),
                 ) -> None:
    """Every matching event as JSON Lines (one event a line, oldest first), streamed."""
    filters = _audit_filters(job, key, tenant, event_type, decision, since, until)
    count = 0
    with contextlib.ExitStack() as stack:
        try:
            sink = sys.stdout if output == "-" else stack.enter_context(open(output, "w", encoding="utf-8"))
        except OSError as error:
            _fail(EXIT_USAGE, f"cannot write {output}: {error.strerror}")
        client = stack.enter_context(_calling(ctx))
        for event in client.export_audit(**filters):
            sink.write(json.dumps(_event_dict(event), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
        sink.flush()
    if output != "-":
        typer.echo(f"exported {count} event(s) to {output}", err=True)


@audit_app.command("checkpoint")
def audit_checkpoint(ctx: typer.Context,
                     create: bool = typer.Option(False, "--create", help="Sign a new checkpoint first."),
                     database: str | None = typer.Option(
                         None, "--database", help="Read it from this database (read-only), not a server."),
                     server: str | None = typer.Option(None, "--server", help="Server address (as the global "
                                                       "--server)."),
                     out: Path | None = typer.Option(None, "--out", help="Write the signed note (C2SP "
                                                     "checkpoint) to FILE: keep it as a trusted checkpoint."),
                     as_json: bool = JSON_OPTION) -> None:
    """The latest signed checkpoint (tree size, root hash, signature, key; the C2SP signed note)."""
    from veriframe.service.cli import ledger_audit

    if database:
        ledger_audit.checkpoint_from_database(database, out)
        return
    if server:
        ctx.find_root().obj.server = server
    with _calling(ctx) as client:
        checkpoint = client.get_checkpoint(create=True) if create else client.latest_checkpoint()
    if out is not None:
        ledger_audit.write_out(out, checkpoint.note)
        typer.echo(f"checkpoint of size {checkpoint.tree_size} written to {out}", err=True)
        return
    if as_json:
        data = _as_dict(checkpoint)
        data["signed_data"] = checkpoint.signed_data.decode()
        _print_json(data)
        return
    typer.echo(f"tree size {checkpoint.tree_size}, root {checkpoint.root_hash}, "
               f"{_when(checkpoint.created_at)}, "
               f"key {checkpoint.key_id[:16]}")
    typer.echo(checkpoint.note or checkpoint.signed_data.decode(), nl=False)


@audit_app.command("proof")
def audit_proof(ctx: typer.Context, seq: int = typer.Argument(..., min=0, help="Event sequence number."),
                tree_size: int = typer.Option(0, "--tree-size", min=0,
                                              help="Prove against this tree size "
                                                   "(default: the latest checkpoint)."),
                public_key: Path | None = typer.Option(
                    None, "--public-key", help="ledger-pub.pem: check the checkpoint's signature."),
                as_json: bool = JSON_OPTION) -> None:
    """An inclusion proof for one event, re-checked here: the audit path leads to the (signed) root.

    Exit 0 when it holds, 1 when it does not."""
    from veriframe.service.client.audit_lookup import Trust, check_inclusion_proof

    with _calling(ctx) as client:
        proof = client.inclusion_proof(seq, tree_size=tree_size)
    check = check_inclusion_proof(proof, Trust(public_key))
    path_ok, checkpoint_ok, how, ok = check.path_ok, check.checkpoint_ok, check.how, check.ok
    if as_json:
        data = _as_dict(proof)
        data.update({"path_ok": path_ok, "checkpoint_ok": checkpoint_ok, "ok": ok, "checked": how})
        data.get("checkpoint", {}).pop("signed_data", None)
        _print_json(data)
    else:
        typer.echo(f"event {proof.seq} in tree of {proof.tree_size}: leaf {proof.leaf_hash}")
        typer.echo(f"audit path: {len(proof.audit_path)} hash(es) -> root {proof.root_hash}")
        typer.echo(f"path {'valid' if path_ok else 'INVALID'}; "
                   f"{how}: {'valid' if checkpoint_ok else 'INVALID'}")
        typer.echo("included" if ok else "NOT PROVEN")
    raise typer.Exit(EXIT_OK if ok else EXIT_NEGATIVE)


def _audit_verify_server(ctx: typer.Context, as_json: bool) -> None:
    """`audit verify` without --database: the server recomputes its ledger."""
    with _calling(ctx) as client:
        report = client.verify_ledger()
    if as_json:
        _print_json({"server": ctx.find_root().obj.server, **_as_dict(report)})
    else:
        typer.echo(f"ledger at {ctx.find_root().obj.server}: tree size {report.tree_size}, "
                   f"root {report.root_hash}, "
                   f"{report.checkpoints_checked} checkpoint(s) checked")
        for problem in report.problems:
            typer.echo(f"  {problem}")
        typer.echo("intact" if report.ok else f"TAMPERED: {len(report.problems)} finding(s)")
    raise typer.Exit(EXIT_OK if report.ok else EXIT_NEGATIVE)


# --- `audit verify` (ledger owner): works locally against a database URL, no server needed. ---------

@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    database: str | None = typer.Option(
        None, "--database", envvar="VERIFRAME_DATABASE_URL",
        help="Database URL, e.g. sqlite:///veriframe.db or postgresql://user@host/db. "
             "Without it, the server (--server) verifies its own ledger."),
    public_key: str | None = typer.Option(
        None, "--public-key", help="ledger-pub.pem: also check every checkpoint's ES256 signature."),
    keys: Path | None = typer.Option(
        None, "--keys", help="A key directory (veriframe keys init): its ledger-pub.pem, as --public-key."),
    trusted_checkpoint: list[Path] = typer.Option(
        [], "--trusted-checkpoint", help="A checkpoint kept outside the database (audit checkpoint --out; "
        "repeatable): exit 1 if the log is smaller than it or not an extension of it."),
    incremental: bool = typer.Option(
        False, "--incremental", help="Check only what came after the largest --trusted-checkpoint."),
    witness_key: list[Path] = typer.Option(
        [], "--witness-key", help="A witness's verifier key (audit witness --init): trusted checkpoints "
        "must carry its cosignature (repeatable)."),
    witness_quorum: int | None = typer.Option(
        None, "--witness-quorum", min=0, help="Cosignatures required (default: 1 with --witness-key)."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Recompute the ledger's Merkle tree and checkpoints; list every edited, deleted, inserted or
    reordered event, unsigned tail, rollback or fork. With --database, checkpoint signatures need the
    ledger's public key (--public-key or --keys): without one, a ledger that has checkpoints is not
    called intact. Exit 0 intact, 1 tampering found or checkpoints left unchecked, 2 unusable input or
    database unreachable."""
    # (admin tool) No database, or one only from the environment while --server was given: ask the server.
    from click.core import ParameterSource

    from veriframe.service.cli import ledger_audit

    from_env = ctx.get_parameter_source("database") == ParameterSource.ENVIRONMENT
    if database is None or (from_env and ctx.find_root().obj.server_from_command_line):
        _audit_verify_server(ctx, as_json)
    key = ledger_audit.read_public_key(public_key, keys)
    witnesses, quorum = ledger_audit.read_witness_keys(witness_key, witness_quorum)
    trusted = ledger_audit.read_trusted(trusted_checkpoint, key, witnesses, quorum)
    ledger_audit.verify_database(database, key, trusted, incremental, as_json)


# --- end of `audit verify` ----------------------------------------------------------------------------


def _register_witness() -> None:
    from veriframe.service.cli.ledger_audit import make_witness_command

    audit_app.command("witness")(make_witness_command(_calling))


_register_witness()


# ------------------------------------------------------------------------------------------- stats

@app.command("stats")
def stats(ctx: typer.Context,
          since: str | None = typer.Option("24h", "--since", help="From (ISO 8601 or an age)."),
          until: str | None = typer.Option(None, "--until", help="Until, exclusive (default: now)."),
          tenant: str = typer.Option("", "--tenant", help="Only this tenant."),
          as_json: bool = JSON_OPTION) -> None:
    """Requests, decisions, blocks by category, review backlog and outcomes over a time range."""
    from rich.table import Table

    start, end = parse_time(since, "--since"), parse_time(until, "--until")
    now = utcnow()
    if start is not None and start > now:
        _fail(EXIT_USAGE, f"--since {since!r} is in the future ({start:%Y-%m-%d %H:%M}Z): nothing to count")
    if start is not None and end is not None and end <= start:
        _fail(EXIT_USAGE, f"--until {until!r} must be later than --since {since!r}")
    with _calling(ctx) as client:
        s = client.stats(start=start, end=end, tenant=tenant)
    if as_json:
        data = _as_dict(s)
        for name, value in list(data.items()):  # uint64 comes back as strings in proto JSON
            if isinstance(value, str) and value.isdigit():
                data[name] = int(value)
            elif isinstance(value, dict):
                data[name] = {k: int(v) for k, v in value.items()}
        _print_json(data)
        return
    span = f"{start:%Y-%m-%d %H:%M}Z" if start else "the beginning"
    console = _console()
    console.print(f"[bold]from {span} to {f'{end:%Y-%m-%d %H:%M}Z' if end else 'now'}"
                  f"{f', tenant {tenant}' if tenant else ''}[/bold]")
    table = Table(show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    for label, value in (("requests", s.requests), ("allowed", s.allowed), ("sent to review", s.reviewed),
                         ("blocked", s.blocked), ("review backlog (now)", s.review_backlog),
                         ("reviews approved", s.reviews_approved), ("reviews rejected", s.reviews_rejected),
                         ("reviews expired", s.reviews_expired), ("jobs succeeded", s.succeeded),
                         ("jobs failed", s.failed)):
        table.add_row(label, str(value))
    console.print(table)
    if s.blocks_by_category:
        blocks = Table(title="blocks by category")
        blocks.add_column("category")
        blocks.add_column("blocks", justify="right")
        for category, count in sorted(s.blocks_by_category.items(), key=lambda kv: -kv[1]):
            blocks.add_row(category, str(count))
        console.print(blocks)


# ---------------------------------------------------------------------------------------- moderate

@app.command("moderate")
def moderate(ctx: typer.Context, prompt: str = typer.Argument(..., help="The prompt to try ('-': stdin)."),
             policy_version: int = typer.Option(0, "--policy-version", min=0,
                                                help="Try an older version (default: the live one)."),
             policy_file: Path | None = typer.Option(None, "--policy-file",
                                                     help="Try a draft policy (.json/.yaml) instead."),
             as_json: bool = JSON_OPTION) -> None:
    """Dry-run a prompt against the live policy on the server: what would happen, and why.

    Nothing is stored. Exit 0 allow, 1 review or block."""
    if prompt == "-":
        prompt = sys.stdin.read()
    draft = _load_document(policy_file) if policy_file is not None else None
    with _calling(ctx) as client:
        result = client.dry_run(prompt, policy_version=policy_version, policy_document=draft)
    if as_json:
        _print_json(_as_dict(result))
    else:
        colour = {"allow": "green", "review": "yellow", "block": "red"}.get(result.decision, "white")
        console = _console()
        console.print(f"[bold {colour}]{result.decision.upper()}[/]  (policy v{result.policy_version})")
        if result.categories:
            console.print(f"categories: {', '.join(result.categories)}")
        if result.rule:
            console.print(f"rule: {result.rule}")
        console.print(f"top scores: {_scores(result.scores, top=5)}")
        if result.user_message:
            console.print(f"the requester would be told: {result.user_message}")
    raise typer.Exit(EXIT_OK if result.decision == "allow" else EXIT_NEGATIVE)
