"""How `veriframe-admin` prints: Rich for people, `--json` for scripts, and the short forms its
tables use (scores, state names)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console

JSON_OPTION = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


def new_console() -> Console:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=False)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False))


def as_dict(message: Any) -> dict[str, Any]:
    from veriframe.service.client.admin import message_to_dict

    return message_to_dict(message)


def shorten(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def top_scores(scores: Any, top: int = 3) -> str:
    best = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)[:top]
    return ", ".join(f"{k} {v:.2f}" for k, v in best)


_REVIEW_STATE = {1: "pending", 2: "approved", 3: "rejected", 4: "expired"}


def review_state_name(value: int) -> str:
    return _REVIEW_STATE.get(value, "?")


def job_state_name(value: int) -> str:
    from veriframe.service.api.gen import common_pb2

    return common_pb2.JobState.Name(value).removeprefix("JOB_STATE_")
