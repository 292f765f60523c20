"""`veriframe-admin policy faces add|list|remove`: protected persons' reference faces.

A reference image is read here, on the admin's machine: its face is embedded with
`veriframe.safety.media.faces.reference_embedding` (dlib, the `media` extra) and only the 128 numbers go
to the server, as a new policy version (`media.protected_faces`). The image never leaves this process.
A face within `media.face_match_distance` of a reference blocks an i2v/v2v input or a generated video.

Exit codes as the rest of `veriframe-admin`: 0 ok; 1 not found or a concurrent policy change; 2 an image
that cannot be used (unreadable, no face, several faces), a policy that cannot hold faces, usage or
connection errors; 3 permission denied (changing the policy needs an admin key).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from veriframe.service.cli.admin.output import print_json
from veriframe.service.cli.admin.session import EXIT_NEGATIVE, EXIT_USAGE, calling, fail
from veriframe.service.clock import utcnow

app = typer.Typer(
    help="Protected persons' reference faces: embeddings only, never images. A match blocks.",
    no_args_is_help=True,
)
MAX_IMAGE_BYTES = 64 * 1024 * 1024


def embed_reference(path: Path) -> tuple[float, ...]:
    """The embedding of the one face in the image at `path` (exit 2 with what to do otherwise)."""
    from veriframe.safety.media import MediaError, load_image
    from veriframe.safety.media.faces import reference_embedding

    try:
        if path.stat().st_size > MAX_IMAGE_BYTES:
            fail(EXIT_USAGE, f"{path}: larger than {MAX_IMAGE_BYTES // (1024 * 1024)} MiB")
        data = path.read_bytes()
    except OSError as error:
        fail(EXIT_USAGE, f"{path}: cannot be read ({error.strerror or error})")
    try:
        return reference_embedding(load_image(data), single=True)
    except MediaError as error:
        fail(EXIT_USAGE, f"{path}: {error}")
    except (ImportError, OSError, RuntimeError) as error:
        fail(EXIT_USAGE, f"the face model cannot run here ({error}); "
                                  "install the media extra: pip install 'veriframe-service[media]'")


def _media_of(document: dict[str, Any], version: int) -> dict[str, Any]:
    """The document's `media` section (made when absent); exit 2 for a schema-1 policy."""
    if document.get("schema", 1) < 2:
            fail(EXIT_USAGE, f"the live policy v{version} is schema 1, which has no media rules: "
                                  'make it schema 2 first (policy edit: add "schema": 2)')
    media = document.setdefault("media", {})
    media.setdefault("protected_faces", [])
    return media


def _key_label(ctx: typer.Context) -> str:
    """Who added a face: the admin key's public prefix (the ledger records the key id as well)."""
    parts = (ctx.find_root().obj.api_key or "").split("_", 2)  # vf_<prefix>_<secret>
    return f"key:{parts[1]}" if len(parts) == 3 else ""


@app.command("add")
def faces_add(
    ctx: typer.Context,
    name: str = typer.Option(..., "--name", help="The protected person's name (shown on a block)."),
    images: list[Path] = typer.Argument(
        ..., metavar="IMAGE", help="Reference photos, one face each (PNG, JPEG, WebP)."
    ),
    comment: str = typer.Option("", "--comment", "-m", help="Why (kept with the version and in the ledger)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON on stdout."),
) -> None:
    """Protect a person: embed the face of each image and publish a new policy version with them."""
    if not name.strip():
        fail(EXIT_USAGE, "--name must not be empty")
    embeddings = [embed_reference(path) for path in images]  # every image checked before any change
    with calling(ctx) as client:
        live = client.get_policy(0)
        document = json.loads(live.document_json)
        faces = _media_of(document, live.version)["protected_faces"]
        stamp = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")
        by = _key_label(ctx)
        faces += [{"name": name.strip(), "embedding": list(e), "added_by": by, "added_at": stamp}
                  for e in embeddings]
        why = comment or f"protect {name.strip()}: {len(embeddings)} reference face(s)"
        new = client.update_policy(document, comment=why, base_version=live.version)
    if as_json:
        print_json({"version": new.version, "previous_version": live.version, "name": name.strip(),
                         "added": len(embeddings), "references": len(faces)})
        return
    typer.echo(f"policy v{new.version} is live (was v{live.version}): {len(embeddings)} reference face(s) "
               f"of {name.strip()} added; {len(faces)} in all")


@app.command("list")
def faces_list(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON on stdout."),
) -> None:
    """The protected persons of the live policy: name, number of reference faces, who added them."""
    with calling(ctx) as client:
        live = client.get_policy(0)
    faces = (json.loads(live.document_json).get("media") or {}).get("protected_faces", [])
    people: dict[str, dict[str, Any]] = {}
    for face in faces:
        row = people.setdefault(face["name"], {"name": face["name"], "references": 0, "added": []})
        row["references"] += 1
        row["added"].append({"by": face.get("added_by", ""), "at": face.get("added_at", "")})
    if as_json:
        print_json({"version": live.version, "people": list(people.values())})
        return
    if not people:
        typer.echo(f"policy v{live.version} protects no faces")
        return
    for row in people.values():
        last = row["added"][-1]
        typer.echo(f"{row['name']}: {row['references']} reference face(s), last added {last['at'] or '-'} "
                   f"by {last['by'] or '-'}")


@app.command("remove")
def faces_remove(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The name given to faces add."),
    comment: str = typer.Option("", "--comment", "-m", help="Why (kept with the version and in the ledger)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable JSON on stdout."),
) -> None:
    """Stop protecting a person: a new policy version without their reference faces (exit 1 if none)."""
    with calling(ctx) as client:
        live = client.get_policy(0)
        document = json.loads(live.document_json)
        media = _media_of(document, live.version)
        kept = [f for f in media["protected_faces"] if f["name"] != name]
        removed = len(media["protected_faces"]) - len(kept)
        if not removed:
            fail(EXIT_NEGATIVE, f"policy v{live.version} has no reference face named {name!r} "
                                         "(see: veriframe-admin policy faces list)")
        media["protected_faces"] = kept
        why = comment or f"unprotect {name}"
        new = client.update_policy(document, comment=why, base_version=live.version)
    if as_json:
        print_json({"version": new.version, "previous_version": live.version, "removed": removed})
        return
    typer.echo(f"policy v{new.version} is live (was v{live.version}): {removed} reference face(s) of "
               f"{name} removed")
