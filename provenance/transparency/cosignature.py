"""Witness cosignatures, c2sp.org/tlog-cosignature (Ed25519, cosignature/v1, note type 0x04).

A cosignature line is `— <witness name> base64(key ID || u64 timestamp || Ed25519 signature)` where
the signature covers `cosignature/v1\\ntime <timestamp>\\n` + the checkpoint body, and
key ID = SHA-256(<name> || "\\n" || 0x04 || 32-byte public key)[:4]. It states: as of `timestamp`,
this is the largest tree the witness has seen for the log, consistent with everything before it.

Witness public keys travel as verifier keys (vkeys): `<name>+<hex key ID>+base64(0x04 || key)`.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from veriframe.provenance.transparency.note import NoteError, NoteSignature

SIG_COSIGNATURE_V1 = 0x04


def cosigned_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def _raw(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def cosigner_key_id(name: str, public_key: ed25519.Ed25519PublicKey) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([SIG_COSIGNATURE_V1]) + _raw(public_key)).digest()[:4]


class CosignatureVerifier:
    """Checks one witness's cosignatures; `timestamp_of` reads the time a verified one states."""

    def __init__(self, name: str, public_key: ed25519.Ed25519PublicKey) -> None:
        self.name, self.public_key = name, public_key
        self.key_id = cosigner_key_id(name, public_key)

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != 8 + 64:
            return False
        (timestamp,) = struct.unpack(">Q", signature[:8])
        if timestamp > 2**63 - 1:
            return False
        try:
            self.public_key.verify(signature[8:], cosigned_message(text.decode(), timestamp))
        except InvalidSignature:
            return False
        return True

    def vkey(self) -> str:
        material = base64.b64encode(bytes([SIG_COSIGNATURE_V1]) + _raw(self.public_key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"


def timestamp_of(signature: NoteSignature) -> int:
    return struct.unpack(">Q", signature.signature[:8])[0]


def parse_vkey(vkey: str) -> CosignatureVerifier:
    """A witness verifier from `<name>+<hex key ID>+base64(0x04 || 32-byte key)`."""
    try:
        name, key_id, material = vkey.strip().split("+", 2)
        raw = base64.b64decode(material, validate=True)
    except ValueError:
        raise NoteError("a witness key is `<name>+<hex key ID>+<base64 key>`") from None
    if len(raw) != 33 or raw[0] != SIG_COSIGNATURE_V1:
        raise NoteError("not an Ed25519 cosignature/v1 (type 0x04) verifier key")
    verifier = CosignatureVerifier(name, ed25519.Ed25519PublicKey.from_public_bytes(raw[1:]))
    if verifier.key_id.hex() != key_id:
        raise NoteError(f"the witness key's ID {key_id} does not match its name and key")
    return verifier


def load_vkey(path: str | Path) -> CosignatureVerifier:
    return parse_vkey(Path(path).read_text())


def load_quorum(files: list[Path], quorum: int | None) -> tuple[list[CosignatureVerifier], int]:
    """The verifiers in ``files`` and the cosignatures required of them (default: 1 when any are
    given). ValueError (OSError for an unreadable file) with what is wrong: the CLIs exit 2 on it."""
    witnesses = [load_vkey(path) for path in files]
    wanted = (1 if witnesses else 0) if quorum is None else quorum
    if wanted > len(witnesses):
        raise ValueError(f"--witness-quorum {wanted} needs at least that many --witness-key files")
    return witnesses, wanted


class Cosigner:
    """A witness's signing half: an Ed25519 private key under a name."""

    def __init__(self, name: str, private_key: ed25519.Ed25519PrivateKey) -> None:
        self.verifier = CosignatureVerifier(name, private_key.public_key())
        self.name, self._key = name, private_key

    def cosign(self, body: str, timestamp: int) -> NoteSignature:
        signature = self._key.sign(cosigned_message(body, timestamp))
        return NoteSignature(self.name, self.verifier.key_id, struct.pack(">Q", timestamp) + signature)
