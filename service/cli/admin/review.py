"""`veriframe-admin review`: the queue of prompts held for a moderator (list, show, approve, reject)."""

from __future__ import annotations

from typing import Any

import typer

from veriframe.service.cli.admin.output import (
    JSON_OPTION,
    as_dict,
    job_state_name,
    new_console,
    print_json,
    review_state_name,
    shorten,
    top_scores,
)
from veriframe.service.cli.admin.session import EXIT_USAGE, calling, fail
from veriframe.service.cli.admin.times import age, when

app = typer.Typer(help="The review queue: prompts held for a moderator.", no_args_is_help=True)


def _review_table(reviews: list[Any], title: str) -> Any:
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in ("review id", "age", "state", "tenant", "requester", "categories", "scores", "prompt"):
        table.add_column(column, no_wrap=column == "review id", overflow="ellipsis")
    for r in reviews:
        table.add_row(r.id, age(r.created_at), review_state_name(r.state), r.tenant, r.requester_key_id[:8],
                      ", ".join(r.categories), top_scores(r.scores), shorten(r.prompt or "(purged)", 50))
    return table


def _show_review(r: Any) -> None:
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    rows = [("review", r.id), ("state", review_state_name(r.state)),
            ("job", f"{r.job_id} ({job_state_name(r.job_state)})"), ("tenant", r.tenant),
            ("requester key", r.requester_key_id), ("categories", ", ".join(r.categories)),
            ("scores", top_scores(r.scores, top=len(r.scores))), ("rule", r.rule or "-"),
            ("policy version", str(r.policy_version)),
            ("created", f"{when(r.created_at)} ({age(r.created_at)} ago)"),
            ("expires", when(r.expires_at))]
    if r.decided_by:
        rows += [("decided by", r.decided_by), ("decided at", when(r.decided_at)),
                 ("reason", r.reason or "-")]
    for key, value in rows:
        grid.add_row(key, value)
    console = new_console()
    console.print(grid)
    console.print(Panel(r.prompt or "(the prompt text was purged by the retention policy)", title="prompt"))
    if r.negative_prompt:
        console.print(Panel(r.negative_prompt, title="negative prompt"))


@app.command("list")
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

    with calling(ctx) as client:
        try:
            reviews = list(itertools.islice(client.iter_reviews(states=state, tenant=tenant), limit))
        except ValueError as error:
            fail(EXIT_USAGE, str(error))
    if as_json:
        print_json([as_dict(r) for r in reviews])
        return
    states = ", ".join(state) or "pending"
    new_console().print(_review_table(reviews, f"{len(reviews)} review(s): {states}"))


@app.command("show")
def review_show(ctx: typer.Context, review_id: str = typer.Argument(..., help="Review id."),
                as_json: bool = JSON_OPTION) -> None:
    """One review in full: prompt, scores, the rule that fired, and the decision if made."""
    with calling(ctx) as client:
        review = client.get_review(review_id)
    if as_json:
        print_json(as_dict(review))
    else:
        _show_review(review)


@app.command("approve")
def review_approve(ctx: typer.Context, review_id: str = typer.Argument(..., help="Review id."),
                   reason: str = typer.Option("", "--reason", help="Why (kept in the ledger)."),
                   as_json: bool = JSON_OPTION) -> None:
    """Approve: the held job is queued and generated. Recorded as review.approved."""
    with calling(ctx) as client:
        review = client.approve_review(review_id, reason)
    _print_decision(review, "approved", as_json)


@app.command("reject")
def review_reject(ctx: typer.Context, review_id: str = typer.Argument(..., help="Review id."),
                  reason: str = typer.Option(..., "--reason", help="Shown to the requester; required."),
                  as_json: bool = JSON_OPTION) -> None:
    """Reject: the job ends REJECTED and the requester sees the reason. Recorded as review.rejected."""
    if not reason.strip():
        fail(EXIT_USAGE, "--reason must not be empty (the requester is shown it)")
    with calling(ctx) as client:
        review = client.reject_review(review_id, reason)
    _print_decision(review, "rejected", as_json)


def _print_decision(review: Any, verb: str, as_json: bool) -> None:
    if as_json:
        print_json(as_dict(review))
    else:
        typer.echo(f"{verb} review {review.id}: job {review.job_id} is {job_state_name(review.job_state)}")
