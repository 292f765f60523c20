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

One module per command group (docs/architecture.md):
  session.py             global connection options, the SDK client, SDK errors -> exit codes
  output.py, times.py    printing (Rich / --json); timestamps and --since / --until
  review.py              review list | show | approve | reject
  policy.py              policy show | edit | diff | history | rollback (documents: policy_documents.py)
  faces.py               policy faces add | list | remove (protected persons' reference embeddings)
  keys.py                keys create | list | revoke
  audit.py               audit checkpoint | proof | verify | witness (events: audit_events.py;
                         against a database, offline, and the witness: ledger_audit.py)
  stats.py, moderate.py  the top-level `stats` and `moderate`
"""

from __future__ import annotations

import sys

import typer

from veriframe.service.cli.admin import audit, keys, moderate, policy, review, stats
from veriframe.service.cli.admin.session import hoist_connection_options, main

__all__ = ["app", "hoist_connection_options", "run"]

app = typer.Typer(
    name="veriframe-admin",
    help="Moderation admin tool: review queue, policies, API keys, audit log and stats. "
         "Exit codes: 0 ok, 1 negative result (not found, verification failed, would not allow), "
         "2 usage or connection error, 3 permission denied.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

app.callback()(main)
# Commands, then groups, in this order in --help.
app.command("stats")(stats.stats)
app.command("moderate")(moderate.moderate)
app.add_typer(review.app, name="review")
app.add_typer(policy.app, name="policy")
app.add_typer(keys.app, name="keys")
app.add_typer(audit.app, name="audit")


def run() -> None:
    """The `veriframe-admin` console script."""
    app(args=hoist_connection_options(sys.argv[1:]), prog_name="veriframe-admin")
