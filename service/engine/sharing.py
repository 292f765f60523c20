"""Image-to-video beside text-to-video without a second T5 encoder and VAE.

CogVideoX-5b and -5b-I2V ship the same T5-XXL encoder (9.5 GB in bf16) and, per checkpoint, a VAE.
When the configs and the weight files of a component are identical in both checkpoints, the I2V
pipeline is built around the T2V engine's modules (``from_pretrained(..., text_encoder=, vae=)``
loads only what differs). Identity is decided by content: in the Hugging Face cache each weight file
is a link to a blob named by its SHA-256; a plain directory's files are hashed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SHAREABLE = ("text_encoder", "vae")
#: Config keys that name where or with what a file was written, not what it computes.
_PROVENANCE_KEYS = {
    "_name_or_path",
    "_diffusers_version",
    "transformers_version",
    "_commit_hash",
    "architectures",
}


def _config(folder: Path) -> dict[str, Any] | None:
    path = folder / "config.json"
    if not path.is_file():
        return None
    return {k: v for k, v in json.loads(path.read_text()).items() if k not in _PROVENANCE_KEYS}


def _file_digest(path: Path) -> str:
    resolved = path.resolve()
    if resolved.parent.name == "blobs" and len(resolved.name) == 64:  # HF cache: the name is the hash
        return resolved.name
    digest = hashlib.sha256()
    with resolved.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 24), b""):
            digest.update(chunk)
    return digest.hexdigest()


def weights_digest(folder: Path) -> list[tuple[str, str]]:
    """(file name, SHA-256) of every weight file of one component folder."""
    files = sorted([*folder.glob("*.safetensors"), *folder.glob("*.bin")])
    return [(f.name, _file_digest(f)) for f in files]


def same_component(a: Path, b: Path) -> bool:
    config = _config(a)
    if config is None or config != _config(b):
        return False
    mine, theirs = weights_digest(a), weights_digest(b)
    return bool(mine) and mine == theirs


def shared_components(engine: Any, path: Path, dtype: str) -> dict[str, Any]:
    """The modules of ``engine`` that the checkpoint at ``path`` can reuse (possibly none)."""
    if not engine.info.path or engine.options.offload != "none" or engine.info.dtype != dtype:
        return {}  # offload hooks belong to one pipeline; another dtype is another tensor
    source = Path(engine.info.path)
    shared = {
        name: getattr(engine.pipe, name) for name in SHAREABLE if same_component(source / name, path / name)
    }
    log.info("%s shares %s with %s", path, ", ".join(sorted(shared)) or "nothing", source)
    return shared


def component_bytes(module: Any) -> int:
    """Bytes of a module's parameters and buffers (for the memory-per-mode table)."""
    tensors = [*module.parameters(), *module.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)
