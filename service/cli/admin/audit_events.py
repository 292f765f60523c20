"""`veriframe-admin audit search | show | export`: reading the ledger's events through the server.
(Registered on the `audit` group by audit.py.)"""

from __future__ import annotations

import contextlib
import json
import sys
from typing import Any

import typer

from veriframe.service.cli.admin.output import JSON_OPTION, as_dict, new_console, print_json, shorten
from veriframe.service.cli.admin.session import EXIT_USAGE, calling, fail
from veriframe.service.cli.admin.times import parse_time, when


def _audit_filters(job: str, key: str, tenant: str, event_type: list[str], decision: str, since: str | None,
                   until: str | None) -> dict[str, Any]:
    if decision and decision not in ("allow", "review", "block"):
        fail(EXIT_USAGE, "--decision must be allow, review or block")
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
    data = as_dict(event)
    data["seq"] = int(data.get("seq", 0))
    data["payload"] = _integral(data.get("payload", {}))
    return data


def audit_search(ctx: typer.Context, job: str = _JOB, key: str = _KEY, tenant: str = _TENANT,
                 event_type: list[str] = _TYPE, decision: str = _DECISION, since: str | None = _SINCE,
                 until: str | None = _UNTIL, limit: int = typer.Option(100, "--limit", min=1, max=500,
                                                                        help="At most this many."),
                 after: int = typer.Option(-1, "--after", help="Only events after this seq (paging)."),
                 as_json: bool = JSON_OPTION) -> None:
    """Ledger events by job, key, tenant, type, decision and time range, oldest first."""
    from rich.table import Table

    filters = _audit_filters(job, key, tenant, event_type, decision, since, until)
    with calling(ctx) as client:
        page = client.search_audit(**filters, page_size=limit, page_token=str(after) if after >= 0 else "")
    events = list(page.events)
    if as_json:
        print_json({"events": [_event_dict(e) for e in events], "next_after": page.next_page_token or None})
        return
    table = Table(title=f"{len(events)} event(s)")
    for column in ("seq", "time", "type", "actor", "tenant", "job", "summary"):
        table.add_column(column, overflow="ellipsis")
    for e in events:
        table.add_row(str(e.seq), when(e.created_at), e.event_type, e.actor[:12], e.tenant, e.job_id[:8],
                      _summary(e))
    new_console().print(table)
    if page.next_page_token:
        typer.echo(f"more: --after {page.next_page_token}", err=True)


def _summary(event: Any) -> str:
    from google.protobuf.json_format import MessageToDict

    payload = _integral(MessageToDict(event.payload))
    keys = ("decision", "categories", "reason", "version", "role", "key_id", "error_code", "provenance_id")
    parts = [f"{k}={payload[k]}" for k in keys if payload.get(k) not in (None, "", [])]
    return shorten(" ".join(parts), 60)


def audit_show(ctx: typer.Context, seq: int = typer.Argument(..., min=0, help="Event sequence number."),
               as_json: bool = JSON_OPTION) -> None:
    """One ledger event with its full payload and leaf hash."""
    with calling(ctx) as client:
        event = client.get_audit_event(seq)
    data = _event_dict(event)
    if as_json:
        print_json(data)
        return
    console = new_console()
    console.print(f"[bold]event {event.seq}[/bold]  {event.event_type}  {when(event.created_at)}")
    console.print(f"actor {event.actor}  tenant {event.tenant or '-'}  job {event.job_id or '-'}")
    console.print(f"leaf hash {event.leaf_hash}")
    console.print_json(json.dumps(data.get("payload", {})))


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
            fail(EXIT_USAGE, f"cannot write {output}: {error.strerror}")
        client = stack.enter_context(calling(ctx))
        for event in client.export_audit(**filters):
            sink.write(json.dumps(_event_dict(event), sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
        sink.flush()
    if output != "-":
        typer.echo(f"exported {count} event(s) to {output}", err=True)
