"""C2PA manifest definitions for Veriframe outputs (plain JSON-able dicts for ``c2pa.Builder``)."""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from veriframe.provenance.ids import format_id

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
#: Label of Veriframe's own assertion (reverse-domain, as C2PA asks of custom assertions).
VERIFRAME_ASSERTION = "org.veriframe.provenance"
ASSERTION_VERSION = 1
#: Soft-binding algorithm name for our watermark. c2pa-rs requires a ``c2pa.soft-binding`` assertion
#: whenever a ``c2pa.watermarked`` action is present; invisible-watermark has no entry in the C2PA
#: soft-binding algorithm list, so the name is ours (reverse-domain) and validators treat it as opaque.
#: Label linking a frame's ``c2pa.opened`` action to its parent-video ingredient.
PARENT_INGREDIENT_LABEL = "parent-video"
SOFT_BINDING_ALG = "org.veriframe.watermark.v1"


def veriframe_version() -> str:
    try:
        return metadata.version("veriframe")
    except metadata.PackageNotFoundError:
        return "0.0.0+unknown"


@dataclass(frozen=True)
class ManifestInfo:
    """What a Veriframe manifest says about one generated video. Never holds the prompt itself."""

    provenance_id: int
    model_name: str
    model_version: str
    audit_ref: str
    params: dict[str, Any] = field(default_factory=dict)
    prompt_sha256: str = ""
    generator_version: str = field(default_factory=veriframe_version)
    watermark_algorithm: str = ""  # filled from provenance.watermark by the builders when empty

    def __post_init__(self) -> None:
        format_id(self.provenance_id)  # validates the range
        if self.prompt_sha256 and not re.fullmatch(r"[0-9a-f]{64}", self.prompt_sha256):
            raise ValueError("prompt_sha256 must be 64 lowercase hex digits (a SHA-256 of the prompt)")
        if "prompt" in self.params or "negative_prompt" in self.params:
            raise ValueError("params must not contain the prompt text (record prompt_sha256 instead)")


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
        "prompt_sha256": info.prompt_sha256,
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


def video_manifest(info: ManifestInfo, *, title: str = "veriframe.mp4") -> dict[str, Any]:
    """Manifest for a generated MP4: created by the model (trainedAlgorithmicMedia), then watermarked."""
    return {
        "claim_generator_info": [{"name": "Veriframe", "version": info.generator_version}],
        "title": title,
        "format": "video/mp4",
        "assertions": [
            {
                "label": "c2pa.actions.v2",
                "data": {
                    "actions": [
                        {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                         "softwareAgent": _agent(info)},
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
