"""`veriframe-admin policy`: show, edit, diff, history and rollback of the moderation policy
(every change is a new version; the documents themselves: policy_documents.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from veriframe.service.cli.admin import faces
from veriframe.service.cli.admin.output import JSON_OPTION, as_dict, new_console, print_json
from veriframe.service.cli.admin.policy_documents import edit_in_editor, load_document, same_policy
from veriframe.service.cli.admin.session import calling
from veriframe.service.cli.admin.times import when

app = typer.Typer(help="The moderation policy: every change makes a new version.", no_args_is_help=True)
app.add_typer(faces.app, name="faces")  # policy faces add | list | remove


def _policy_summary(p: Any) -> None:
    from rich.table import Table

    document = json.loads(p.document_json)
    console = new_console()
    live = " (live)" if p.live else ""
    console.print(f"[bold]policy v{p.version}{live}[/bold]  by {p.created_by or '-'}  {when(p.created_at)}"
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
    unread = document.get("unread_script_action", "allow")
    console.print(f"a prompt in a script the classifier cannot read: {unread}")
    console.print("full document: veriframe-admin policy show --json, or policy edit")


def _fmt(value: Any) -> str:
    return "off" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


@app.command("show")
def policy_show(ctx: typer.Context,
                version: int = typer.Option(0, "--version", "-v", min=0,
                                            help="A version (default: the live one)."),
                as_json: bool = JSON_OPTION,
                document_only: bool = typer.Option(
                    False, "--document",
                    help="Print only the policy document (JSON), e.g. to edit for policy edit --file."),
                ) -> None:
    """The policy: thresholds, block terms and patterns per category, protected persons."""
    with calling(ctx) as client:
        policy = client.get_policy(version)
    if document_only:
        print_json(json.loads(policy.document_json))
    elif as_json:
        data = as_dict(policy)
        data["document"] = json.loads(data.pop("document_json"))
        print_json(data)
    else:
        _policy_summary(policy)


@app.command("edit")
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
    with calling(ctx) as client:
        live = client.get_policy(0)
        if file is not None:
            document = load_document(file)
            if same_policy(document, json.loads(live.document_json)):
                typer.echo(f"no change: {file} is the live policy v{live.version}", err=True)
                return
        else:
            edited = edit_in_editor(json.loads(live.document_json), yaml_syntax)
            if edited is None:
                typer.echo(f"no change: the live policy stays v{live.version}", err=True)
                return
            document = edited
        new = client.update_policy(document, comment=comment, base_version=live.version)
        diff = client.diff_policies(live.version, new.version)
    if as_json:
        print_json({"version": new.version, "previous_version": live.version,
                     "changes": [as_dict(c) for c in diff.changes]})
        return
    typer.echo(f"policy v{new.version} is live (was v{live.version}); {len(diff.changes)} change(s)")
    _print_changes(diff)


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
    new_console().print(table)


@app.command("diff")
def policy_diff(ctx: typer.Context,
                from_version: int = typer.Argument(..., min=1, help="The older version."),
                to_version: int = typer.Argument(0, min=0, help="The newer one (default: live)."),
                unified: bool = typer.Option(False, "--unified", "-u",
                                             help="A unified diff of the documents."),
                as_json: bool = JSON_OPTION) -> None:
    """What changed between two policy versions."""
    with calling(ctx) as client:
        diff = client.diff_policies(from_version, to_version)
    if as_json:
        print_json(as_dict(diff))
    elif unified:
        typer.echo(diff.unified_diff or "(no differences)")
    else:
        _print_changes(diff)


@app.command("history")
def policy_history(ctx: typer.Context, as_json: bool = JSON_OPTION) -> None:
    """Every policy version, newest first: who made it, when and why."""
    from rich.table import Table

    with calling(ctx) as client:
        versions = list(client.iter_policy_versions())
    if as_json:
        print_json([{k: v for k, v in as_dict(p).items() if k != "document_json"} for p in versions])
        return
    table = Table(title="policy versions")
    for column in ("version", "live", "created", "by", "comment"):
        table.add_column(column)
    for p in versions:
        table.add_row(str(p.version), "*" if p.live else "", when(p.created_at), p.created_by, p.comment)
    new_console().print(table)


@app.command("rollback")
def policy_rollback(ctx: typer.Context,
                    version: int = typer.Argument(..., min=1, help="The version to restore."),
                    comment: str = typer.Option("", "--comment", "-m", help="Why."),
                    as_json: bool = JSON_OPTION) -> None:
    """Restore an older version's document as a NEW version (versions are never edited)."""
    with calling(ctx) as client:
        new = client.rollback_policy(version, comment=comment)
    if as_json:
        print_json({k: v for k, v in as_dict(new).items() if k != "document_json"})
    else:
        typer.echo(f"policy v{new.version} is live: the document of v{version}")
