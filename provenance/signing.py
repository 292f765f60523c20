"""Sign MP4 videos (BMFF hard binding) and PNG frames with C2PA manifests. Works offline.

Sign last: any re-mux after signing breaks the hard binding.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from veriframe.provenance.keys import SigningKeys
from veriframe.provenance.manifest import (
    PARENT_INGREDIENT_LABEL,
    ManifestInfo,
    frame_manifest,
    input_ingredient,
    video_manifest,
)

# Image manifests would otherwise carry a ~70 KB thumbnail each (it doubles a frame's size).
_BUILDER_SETTINGS = {"builder": {"thumbnail": {"enabled": False}}}


class SigningError(RuntimeError):
    """C2PA signing failed (bad keys, unsupported input, ...): nothing was written to the destination."""


def _signer(keys: SigningKeys) -> Any:
    import c2pa

    info = c2pa.C2paSignerInfo(keys.alg.encode(), keys.chain_pem, keys.key_pem,
                               keys.tsa_url.encode() if keys.tsa_url else None)
    return c2pa.Signer.from_info(info)


def _sign(definition: dict[str, Any], mime: str, src: Path, dst: Path, keys: SigningKeys,
          ingredient: tuple[dict[str, Any], str, Path] | None = None) -> bytes:
    """Sign ``src`` into ``dst`` (atomically). ``ingredient``: (definition, media type, file); a file
    that carries its own C2PA manifest keeps it as the ingredient's manifest (c2pa-rs embeds it).

    An ingredient whose own manifest c2pa-rs cannot take (damaged, hostile: an uploaded image can
    carry anything) is recorded without it, saying so, rather than failing the whole signing."""
    import c2pa

    tmp = dst.with_name(dst.name + ".partial")
    try:
        try:
            manifest = _build(definition, mime, src, tmp, keys, ingredient)
        except c2pa.C2paError:
            if ingredient is None:
                raise
            ingredient_json, ingredient_mime, _ = ingredient
            recorded = {**ingredient_json, "format": ingredient_mime,
                        "description": "its own C2PA manifest could not be read, so it is not kept"}
            manifest = _build({**definition, "ingredients": [recorded]}, mime, src, tmp, keys, None)
        tmp.replace(dst)
    except c2pa.C2paError as exc:
        tmp.unlink(missing_ok=True)
        raise SigningError(f"C2PA signing of {src} failed: {exc}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return bytes(manifest)


def _build(definition: dict[str, Any], mime: str, src: Path, tmp: Path, keys: SigningKeys,
           ingredient: tuple[dict[str, Any], str, Path] | None) -> bytes:
    import c2pa

    context = c2pa.Context.from_dict(_BUILDER_SETTINGS)
    with c2pa.Builder(json.dumps(definition), context=context) as builder, _signer(keys) as signer:
        if ingredient is not None:
            ingredient_json, ingredient_mime, ingredient_path = ingredient
            with open(ingredient_path, "rb") as stream:
                builder.add_ingredient(json.dumps(ingredient_json), ingredient_mime, stream)
        with open(src, "rb") as source, open(tmp, "wb") as dest:
            return builder.sign(signer, mime, source, dest)


def sign_mp4(src: str | Path, dst: str | Path, info: ManifestInfo, keys: SigningKeys) -> bytes:
    """Embed a signed manifest in the MP4 ``src``, written to ``dst``; returns the manifest bytes.
    An i2v/v2v input (``info.input``) becomes the manifest's ``inputTo`` ingredient."""
    dst = Path(dst)
    definition = input_ingredient(info)
    ingredient = (definition, info.input.media_type, info.input.path) if definition and info.input else None
    return _sign(video_manifest(info, title=dst.name), "video/mp4", Path(src), dst, keys, ingredient)


def sign_png(src: str | Path, dst: str | Path, info: ManifestInfo, keys: SigningKeys, *,
             parent_mp4: str | Path, frame_index: int | None = None) -> bytes:
    """Sign one PNG frame; the signed video ``parent_mp4`` becomes its ``parentOf`` ingredient."""
    dst, parent = Path(dst), Path(parent_mp4)
    definition = frame_manifest(info, frame_index, title=dst.name, parent_title=parent.name)
    ingredient = ({"title": parent.name, "relationship": "parentOf", "label": PARENT_INGREDIENT_LABEL},
                  "video/mp4", parent)
    return _sign(definition, "image/png", Path(src), dst, keys, ingredient)


def manifest_sha256(manifest: bytes) -> str:
    """Hex SHA-256 of a manifest store (what the audit ledger records)."""
    return hashlib.sha256(manifest).hexdigest()
