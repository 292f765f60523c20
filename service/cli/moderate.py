"""`veriframe moderate [FILE|-]`: screen prompts offline, one JSON line out per prompt; or evaluate.

Heavy imports (torch, transformers) stay inside the command so `veriframe --help` is fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

_BATCH = 32


def _read_lines(source: str) -> list[bytes]:
    if source == "-":
        data = sys.stdin.buffer.read()
    else:
        try:
            data = Path(source).read_bytes()
        except OSError as exc:
            typer.echo(f"veriframe moderate: cannot read {source}: {exc.strerror}", err=True)
            raise typer.Exit(2) from None
    return [line.rstrip(b"\r") for line in data.split(b"\n")]


def _parse(line: bytes) -> tuple[Any, bytes | str, dict[str, str]]:
    """(id or None, prompt, media): a JSONL object with a `prompt` field (and optional `image` or
    `video` paths), else the raw line."""
    stripped = line.strip()
    if stripped.startswith(b"{"):
        try:
            obj = json.loads(stripped)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None, line, {}
        if isinstance(obj, dict) and "prompt" in obj:
            prompt = obj["prompt"] if isinstance(obj["prompt"], str) else repr(obj["prompt"])
            media = {k: str(obj[k]) for k in ("image", "video") if obj.get(k)}
            return obj.get("id"), prompt, media
    return None, line, {}


def _screen_media(media: dict[str, str], base: Path, policy: Any) -> dict[str, Any]:
    """The media decision for one line's `image`/`video` (paths relative to the input file), as JSON.
    With both, the stricter of the two."""
    from veriframe.safety.media import MediaError
    from veriframe.safety.media.screen import MediaCheckError, screen_input

    results = []
    try:
        for kind, raw in media.items():
            path = Path(raw) if Path(raw).is_absolute() else base / raw
            results.append(screen_input(kind, path.read_bytes(), policy))  # type: ignore[arg-type]
    except OSError as exc:
        return {"error": f"cannot read {exc.filename}: {exc.strerror}"}
    except (MediaError, MediaCheckError) as exc:
        return {"error": str(exc)}
    worst = max(results, key=lambda d: {"allow": 0, "review": 1, "block": 2}[d.decision])
    return {k: v for k, v in worst.to_dict().items() if k not in ("policy_version", "checks")}


def _combine(out: dict[str, Any]) -> dict[str, Any]:
    """The line's decision is the stricter of the prompt's and the media's (an unreadable medium blocks:
    fail closed); categories of both, the deciding side first."""
    severity = {"allow": 0, "review": 1, "block": 2}
    media = out["media"]
    media_decision = media.get("decision", "block")
    if severity[media_decision] > severity[out["decision"]]:
        out["decision"] = media_decision
        out["user_message"] = media.get("user_message", "The input image or video could not be checked.")
        out["rule"] = media.get("rule")
        out["categories"] = list(dict.fromkeys(media.get("categories", []) + out["categories"]))
    elif media_decision != "allow":
        out["categories"] = list(dict.fromkeys(out["categories"] + media.get("categories", [])))
    return out


def moderate(
    file: Annotated[
        str,
        typer.Argument(
            help="Prompts, one per line or JSONL with a `prompt` field (and optional `image` or `video` "
            "paths, relative to FILE, screened with it); `-` = stdin."
        ),
    ] = "-",
    policy: Annotated[
        Path | None, typer.Option(help="Policy JSON file (default: the shipped policy).")
    ] = None,
    classifier: Annotated[
        Path | None,
        typer.Option(
            help="A local Hugging Face text-classification checkpoint to use instead of the default."
        ),
    ] = None,
    label_map: Annotated[
        str | None,
        typer.Option(
            help="With --classifier: JSON (or a JSON file) mapping model labels to categories, e.g. "
            '\'{"toxic": "harassment", "safe": null}\'.'
        ),
    ] = None,
    rules_only: Annotated[bool, typer.Option(help="Skip the classifier: the rule layer alone.")] = False,
    label_column: Annotated[
        str | None,
        typer.Option(
            help="Evaluate instead of screening: FILE is CSV/TSV/JSONL and this column holds its labels."
        ),
    ] = None,
    text_column: Annotated[str, typer.Option(help="With --label-column: the prompt column.")] = "prompt",
    eval_label_map: Annotated[
        str | None, typer.Option(help="With --label-column: JSON mapping the file's labels to categories.")
    ] = None,
) -> None:
    """Screen prompts offline and print one JSON line per prompt: decision, categories, scores.

    Exit status: 0 all allowed, 1 some prompt was held for review or blocked, 2 unreadable input or
    bad options (lines that cannot be screened print an `error` line). With --label-column, evaluate
    the screen on a labelled file instead (AUPRC, F1, recall per category, FPR on benign) and print
    the report as JSON; see docs/safety.md.
    """
    pol, clf = _load(policy, classifier, label_map, rules_only)
    if label_column is not None:
        _evaluate(file, pol, clf, text_column, label_column, eval_label_map)
        return
    items = [(n, *_parse(line)) for n, line in enumerate(_read_lines(file), start=1) if line.strip()]
    base = Path(file).parent if file != "-" else Path.cwd()
    flagged = unreadable = False
    for start in range(0, len(items), _BATCH):
        batch = items[start : start + _BATCH]
        for out, (_, _, _, media) in zip(_screen_batch(batch, pol, clf), batch, strict=True):
            if media and "error" not in out:
                out["media"] = _screen_media(media, base, pol)
                out = _combine(out)
                unreadable |= "error" in out["media"]
            unreadable |= "error" in out
            flagged |= out.get("decision", "allow") != "allow"
            typer.echo(json.dumps(out, ensure_ascii=False))
    if unreadable:
        raise typer.Exit(2)
    if flagged:
        raise typer.Exit(1)


def _load(
    policy: Path | None, classifier: Path | None, label_map: str | None, rules_only: bool
) -> tuple[Any, Any]:
    """(policy, classifier or None); exit 2 with the reason when either cannot be loaded."""
    from veriframe.safety.classifier import ClassifierError, HFClassifier, load_label_map
    from veriframe.safety.ensemble import load_default_classifier
    from veriframe.safety.policy import PolicyError, default_policy, load_policy

    try:
        pol = load_policy(policy) if policy else default_policy()
        if classifier is not None:
            if not label_map:
                raise ClassifierError("--classifier needs --label-map")
            return pol, HFClassifier(classifier, load_label_map(label_map))
        return pol, None if rules_only else load_default_classifier()
    except (PolicyError, ClassifierError) as exc:
        typer.echo(f"veriframe moderate: {exc}", err=True)
        raise typer.Exit(2) from None


def _evaluate(
    file: str, pol: Any, clf: Any, text_column: str, label_column: str, label_map: str | None
) -> None:
    from veriframe.safety.evaluate import evaluate, read_labelled

    try:
        samples = read_labelled(
            Path(file),
            text_column=text_column,
            label_column=label_column,
            label_map=json.loads(label_map) if label_map else None,
        )
    except (OSError, KeyError, ValueError) as exc:
        typer.echo(f"veriframe moderate: cannot evaluate {file}: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(evaluate(samples, pol, clf), indent=1))


def _screen_batch(batch: list[tuple[int, Any, Any, Any]], pol: Any, clf: Any) -> list[dict[str, Any]]:
    """One output line per prompt of `batch`; a prompt that cannot be screened gets an `error`."""
    from veriframe.safety.screen import PromptError, screen, screen_many

    try:
        results: list[Any] = screen_many([p for _, _, p, _ in batch], pol, clf)
    except PromptError:
        results = []
        for _, _, prompt, _ in batch:  # isolate the bad line(s)
            try:
                results.append(screen(prompt, pol, clf))
            except PromptError as exc:
                results.append(exc)
    lines = []
    for (n, item_id, _, _), result in zip(batch, results, strict=True):
        out: dict[str, Any] = {"line": n}
        if item_id is not None:
            out["id"] = item_id
        if isinstance(result, PromptError):
            out["error"] = str(result)
        else:
            out |= {
                "decision": result.decision,
                "categories": result.categories,
                "scores": result.scores,
                "rule": result.rule,
                "policy_version": result.policy_version,
                "user_message": result.user_message,
            }
        lines.append(out)
    return lines
