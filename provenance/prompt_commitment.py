"""Keyed commitments to prompts: what a manifest may say about the prompt that made a video.

``value = HMAC-SHA256(key, SHA-256(prompt as UTF-8))``, with a per-deployment secret ``key`` kept
with the signing keys (``KEYS/prompt-commitment.key``). Anyone holding the file sees the commitment,
but without the key cannot test a guessed prompt against it (an unsalted SHA-256 could be confirmed by
hashing guesses). The deployment, holding the key, can confirm a prompt its owner presents
(:func:`opens`). Committing to the prompt's SHA-256 rather than to the text lets the service commit
from the digest it already stores, after the prompt itself may have been purged.

Why HMAC and not a per-job salt purged with the prompt: a salt would have to travel to the owner
(an API change) and be kept by them, or the commitment becomes unprovable; the key is one secret,
protected and backed up like the signing key, rotatable (``key_id`` says which key made a
commitment, so old ones stay checkable while the old key is kept; destroying a retired key makes its
commitments unopenable for everyone, the operator included).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ALGORITHM = "hmac-sha256"
KEY_FILE = "prompt-commitment.key"
_KEY_BYTES = 32


class PromptKeyError(ValueError):
    """The prompt-commitment key file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class PromptKey:
    secret: bytes

    @property
    def key_id(self) -> str:
        """16 hex digits naming the key (a hash of it: reveals nothing about the secret)."""
        return hashlib.sha256(b"veriframe prompt-commitment key id\x00" + self.secret).hexdigest()[:16]


def create_prompt_key(path: str | Path) -> PromptKey:
    """Write a new random key to ``path`` (mode 0600, hex text); refuses to overwrite."""
    path = Path(path)
    key = PromptKey(secrets.token_bytes(_KEY_BYTES))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise PromptKeyError(f"{path} already exists: refusing to overwrite the prompt key") from None
    except OSError as exc:
        raise PromptKeyError(f"cannot create prompt key {path}: {exc.strerror or exc}") from exc
    with os.fdopen(fd, "w") as handle:
        handle.write(key.secret.hex() + "\n")
    return key


def load_prompt_key(path: str | Path) -> PromptKey:
    try:
        text = Path(path).read_text().strip()
    except OSError as exc:
        raise PromptKeyError(f"cannot read prompt key {path}: {exc.strerror or exc}") from exc
    if not re.fullmatch(r"[0-9a-f]{64}", text):
        raise PromptKeyError(f"{path}: not a prompt key (64 lowercase hex digits)")
    return PromptKey(bytes.fromhex(text))


def prompt_key_for(keys_dir: str | Path) -> PromptKey:
    """The deployment's key in ``keys_dir``, created on first use (a deployment whose key directory
    predates prompt commitments gets one the first time it signs)."""
    path = Path(keys_dir) / KEY_FILE
    if not path.exists():
        try:
            return create_prompt_key(path)
        except PromptKeyError:
            if not path.exists():
                raise
            # another process created it first: read that one
    return load_prompt_key(path)


def commit_digest(prompt_sha256: str, key: PromptKey) -> dict[str, str]:
    """The commitment to the prompt whose SHA-256 (64 hex digits) is ``prompt_sha256``."""
    if not re.fullmatch(r"[0-9a-f]{64}", prompt_sha256):
        raise ValueError("prompt_sha256 must be 64 lowercase hex digits")
    value = hmac.new(key.secret, bytes.fromhex(prompt_sha256), hashlib.sha256).hexdigest()
    return {"alg": ALGORITHM, "key_id": key.key_id, "value": value}


def commit_prompt(prompt: str, key: PromptKey) -> dict[str, str]:
    return commit_digest(hashlib.sha256(prompt.encode("utf-8")).hexdigest(), key)


def opens(commitment: dict[str, Any], prompt: str, keys: list[PromptKey]) -> bool:
    """Whether ``prompt`` is the one ``commitment`` was made to, with whichever of ``keys`` made it.

    Raises PromptKeyError when none of ``keys`` made it (the answer is then unknown, not "no")."""
    if commitment.get("alg") != ALGORITHM:
        raise PromptKeyError(f"unknown commitment algorithm {commitment.get('alg')!r}")
    key = next((k for k in keys if k.key_id == commitment.get("key_id")), None)
    if key is None:
        raise PromptKeyError(f"the commitment was made with key {commitment.get('key_id')!r}, "
                             "which is not among the keys given")
    return hmac.compare_digest(commit_prompt(prompt, key)["value"], str(commitment.get("value", "")))


def is_commitment(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("alg") == ALGORITHM
            and isinstance(value.get("key_id"), str) and bool(re.fullmatch(r"[0-9a-f]{64}",
                                                                             str(value.get("value", "")))))
