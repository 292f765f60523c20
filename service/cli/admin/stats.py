"""`veriframe-admin stats`: requests, decisions, blocks and review outcomes over a time range."""

from __future__ import annotations

import typer

from veriframe.service.cli.admin.output import JSON_OPTION, as_dict, new_console, print_json
from veriframe.service.cli.admin.session import EXIT_USAGE, calling, fail
from veriframe.service.cli.admin.times import parse_time
from veriframe.service.clock import utcnow


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
        fail(EXIT_USAGE, f"--since {since!r} is in the future ({start:%Y-%m-%d %H:%M}Z): nothing to count")
    if start is not None and end is not None and end <= start:
        fail(EXIT_USAGE, f"--until {until!r} must be later than --since {since!r}")
    with calling(ctx) as client:
        s = client.stats(start=start, end=end, tenant=tenant)
    if as_json:
        data = as_dict(s)
        for name, value in list(data.items()):  # uint64 comes back as strings in proto JSON
            if isinstance(value, str) and value.isdigit():
                data[name] = int(value)
            elif isinstance(value, dict):
                data[name] = {k: int(v) for k, v in value.items()}
        print_json(data)
        return
    span = f"{start:%Y-%m-%d %H:%M}Z" if start else "the beginning"
    console = new_console()
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
