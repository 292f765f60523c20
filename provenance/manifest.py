"""C2PA manifest definitions for Veriframe outputs (plain JSON-able dicts for ``c2pa.Builder``)."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from veriframe.provenance.ids import format_id

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: Label of Veriframe's own assertion (reverse-domain, as C2PA asks of custom assertions).
VERIFRAME_ASSERTION = "org.veriframe.provenance"
#: 1: ``prompt_sha256`` (an unsalted SHA-256: confirmable by guessing; still read, never written);
#: 2: ``prompt_commitment`` (keyed, see provenance.prompt_commitment).
ASSERTION_VERSION = 2
#: Label of an i2v/v2v input's ingredient (an ``inputTo`` ingredient of the output).
INPUT_INGREDIENT_LABEL = "generation-input"
#: Key, in an ingredient's ``metadata``, of the SHA-256 (hex) of the ingredient file's bytes.
INGREDIENT_SHA256_KEY = "org.veriframe.sha256"
#: Soft-binding algorithm name for our watermark. c2pa-rs requires a ``c2pa.soft-binding`` assertion
#: whenever a ``c2pa.watermarked`` action is present; invisible-watermark has no entry in the C2PA
#: soft-binding algorithm list, so the name is ours (reverse-domain) and validators treat it as opaque.
#: Label linking a frame's ``c2pa.opened`` action to its parent-video ingredient.
PARENT_INGREDIENT_LABEL = "parent-video"
SOFT_BINDING_ALG = "org.veriframe.watermark.v1"


def veriframe_version() -> str:
    for distribution in ("veriframe-service", "veriframe"):
        try:
            return metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return "0.0.0+unknown"


@dataclass(frozen=True)
class ManifestInfo:
    """What a Veriframe manifest says about one generated video. Never holds the prompt itself."""

    provenance_id: int
    model_name: str
    model_version: str
    audit_ref: str
    params: dict[str, Any] = field(default_factory=dict)
    #: A keyed commitment to the prompt (provenance.prompt_commitment.commit_digest), or None.
    prompt_commitment: dict[str, str] | None = None
    generator_version: str = field(default_factory=veriframe_version)
    watermark_algorithm: str = ""  # filled from provenance.watermark by the builders when empty
    #: i2v/v2v: the generation input, recorded as an ``inputTo`` ingredient of the video's manifest.
    input: InputFile | None = None

    def __post_init__(self) -> None:
        from veriframe.provenance.prompt_commitment import is_commitment

        format_id(self.provenance_id)  # validates the range
        if self.prompt_commitment is not None and not is_commitment(self.prompt_commitment):
            raise ValueError("prompt_commitment must come from provenance.prompt_commitment.commit_digest")
        if "prompt" in self.params or "negative_prompt" in self.params:
            raise ValueError("params must not contain the prompt text (record prompt_commitment instead)")


@dataclass(frozen=True)
class InputFile:
    """A generation input (the i2v image or v2v video) to record as an ingredient."""

    path: Path
    media_type: str  # "image/png", "image/jpeg", "image/webp" or "video/mp4"
    sha256: str  # of the file's bytes (hex)
    title: str = "generation input"  # never the uploaded file's name (it may say something private)


def _algorithm(info: ManifestInfo) -> str:
    if info.watermark_algorithm:
        return info.watermark_algorithm
    from veriframe.provenance.watermark import WATERMARK_ALGORITHM

    return WATERMARK_ALGORITHM


def veriframe_assertion(info: ManifestInfo, *, frame_index: int | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": ASSERTION_VERSION,
        "provenance_id": format_id(info.provenance_id),
        "watermark": {"algorithm": _algorithm(info), "embedded_in": "every frame"},
        "audit_ref": info.audit_ref,
        "model": {"name": info.model_name, "version": info.model_version},
        "params": info.params,
        "prompt_commitment": info.prompt_commitment,
    }
    if frame_index is not None:
        data["frame_index"] = frame_index
    return {"label": VERIFRAME_ASSERTION, "data": data}


def soft_binding_assertion(info: ManifestInfo) -> dict[str, Any]:
    """``c2pa.soft-binding``: the value is the 8-byte provenance id the watermark carries."""
    value = base64.b64encode(info.provenance_id.to_bytes(8, "big")).decode()
    return {"label": "c2pa.soft-binding",
            "data": {"alg": SOFT_BINDING_ALG, "blocks": [{"scope": {}, "value": value}]}}


def _agent(info: ManifestInfo) -> dict[str, str]:
    return {"name": info.model_name, "version": info.model_version}


def input_ingredient(info: ManifestInfo) -> dict[str, Any] | None:
    """The ingredient definition of the i2v/v2v input (``c2pa.Builder.add_ingredient``), or None."""
    if info.input is None:
        return None
    return {"title": info.input.title, "relationship": "inputTo", "label": INPUT_INGREDIENT_LABEL,
            "metadata": {INGREDIENT_SHA256_KEY: info.input.sha256}}


def video_manifest(info: ManifestInfo, *, title: str = "veriframe.mp4") -> dict[str, Any]:
    """Manifest for a generated MP4: created by the model (trainedAlgorithmicMedia), then watermarked.

    With an i2v/v2v input, ``c2pa.created`` names it (its ``inputTo`` ingredient) as what the model
    was given."""
    created: dict[str, Any] = {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                               "softwareAgent": _agent(info)}
    if info.input is not None:
        created["parameters"] = {"description": f"generated from the {info.input.title}",
                                 "ingredientIds": [INPUT_INGREDIENT_LABEL]}
    return {
        "claim_generator_info": [{"name": "Veriframe", "version": info.generator_version}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        created,
                        {"action": "c2pa.watermarked",
                         "softwareAgent": {"name": "Veriframe", "version": info.generator_version},
                         "parameters": {"description": "invisible watermark in every frame",
                                        "algorithm": _algorithm(info)}},
                    ]
                },
            },
            soft_binding_assertion(info),
            veriframe_assertion(info),
        ],
    }


def frame_manifest(
    info: ManifestInfo, frame_index: int | None, *, title: str, parent_title: str
) -> dict[str, Any]:
    """Manifest for one exported PNG frame; the signed video is added as its ``parentOf`` ingredient."""
    which = "a frame" if frame_index is None else f"frame {frame_index}"
    description = f"{which} of {parent_title}"
    return {
        "claim_generator_info": [{"name": "Veriframe", "version": info.generator_version}],
        "title": title,
        "format": "image/png",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {"action": "c2pa.opened", "softwareAgent": {"name": "Veriframe",
                                                                    "version": info.generator_version},
                         # The pixels are still the model's: say so on the frame itself too.
                         "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                         "parameters": {"description": description,
                                        "ingredientIds": [PARENT_INGREDIENT_LABEL]}},
                        {"action": "c2pa.watermarked",
                         "softwareAgent": {"name": "Veriframe", "version": info.generator_version},
                         "parameters": {"description": "invisible watermark in every frame",
                                        "algorithm": _algorithm(info)}},
                    ]
                },
            },
            soft_binding_assertion(info),
            veriframe_assertion(info, frame_index=frame_index),
        ],
    }
