"""Policy documents as `veriframe-admin` reads them: a .json/.yaml file, or the live one edited in
$EDITOR (`policy edit`, `moderate --policy-file`). Unreadable input exits 2 with what is wrong."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from veriframe.service.cli.admin.session import EXIT_USAGE, fail


def load_document(path: Path) -> dict[str, Any]:
    """A policy document from a .json or .yaml/.yml file (exit 2 if unreadable)."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        fail(EXIT_USAGE, f"cannot read {path}: {error.strerror}")
    return parse_document(text, yaml_syntax=path.suffix.lower() in (".yaml", ".yml"), source=str(path))


def parse_document(text: str, *, yaml_syntax: bool, source: str) -> dict[str, Any]:
    try:
        if yaml_syntax:
            import yaml

            document = yaml.safe_load(text)
        else:
            document = json.loads(text)
    except Exception as error:  # yaml.YAMLError / json.JSONDecodeError: say where
        fail(EXIT_USAGE, f"{source} is not valid {'YAML' if yaml_syntax else 'JSON'}: {error}")
    if not isinstance(document, dict):
        fail(EXIT_USAGE, f"{source}: a policy document is a mapping (JSON object)")
    return document


def edit_in_editor(document: dict[str, Any], yaml_syntax: bool) -> dict[str, Any] | None:
    """Open $VISUAL/$EDITOR on the document; None when it comes back unchanged."""
    import shlex
    import subprocess
    import tempfile

    editor = os.environ.get("VISUAL") or os.environ.get("EDITOR")
    if not editor:
        fail(EXIT_USAGE, "set $EDITOR (or pass --file FILE)")
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
            fail(EXIT_USAGE, f"the editor exited with status {result.returncode}; nothing changed")
        edited = path.read_text(encoding="utf-8")
    if edited == text:
        return None
    return parse_document(edited, yaml_syntax=yaml_syntax, source="the edited policy")


def same_policy(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return {k: v for k, v in a.items() if k != "version"} == {k: v for k, v in b.items() if k != "version"}
