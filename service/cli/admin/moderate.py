"""`veriframe-admin moderate`: dry-run a prompt against a policy on the server (nothing is stored)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from veriframe.service.cli.admin.output import JSON_OPTION, as_dict, new_console, print_json, top_scores
from veriframe.service.cli.admin.policy_documents import load_document
from veriframe.service.cli.admin.session import EXIT_NEGATIVE, EXIT_OK, calling


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
    draft = load_document(policy_file) if policy_file is not None else None
    with calling(ctx) as client:
        result = client.dry_run(prompt, policy_version=policy_version, policy_document=draft)
    if as_json:
        print_json(as_dict(result))
    else:
        colour = {"allow": "green", "review": "yellow", "block": "red"}.get(result.decision, "white")
        console = new_console()
        console.print(f"[bold {colour}]{result.decision.upper()}[/]  (policy v{result.policy_version})")
        if result.categories:
            console.print(f"categories: {', '.join(result.categories)}")
        if result.rule:
            console.print(f"rule: {result.rule}")
        console.print(f"top scores: {top_scores(result.scores, top=5)}")
        if result.user_message:
            console.print(f"the requester would be told: {result.user_message}")
    raise typer.Exit(EXIT_OK if result.decision == "allow" else EXIT_NEGATIVE)
