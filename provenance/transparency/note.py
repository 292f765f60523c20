"""C2SP signed notes (c2sp.org/signed-note): text followed by a blank line and signature lines.

    <text, ending in a newline>
    <blank line>
    — <key name> base64(4-byte key ID || signature)

Key IDs and algorithms used here (signature type byte in brackets):
- the log key, ECDSA P-256 with SHA-256 [0x02], the type the note spec assigns to ECDSA as
  transparency-dev/witness implements it: the signature is ASN.1 DER, the key ID is the first four
  bytes of SHA-256 of the DER SubjectPublicKeyInfo. It keeps the ledger's existing P-256 key
  (`ledger-key.pem`) and its pinned `ledger-pub.pem` valid.
- witness cosignatures, Ed25519 [0x04] (c2sp.org/tlog-cosignature): see `cosignature`.

A verifier is configured with (key name, key); signatures from unknown keys are ignored, a known
key's signature that fails rejects the note, and a note with no verified known signature is rejected.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

SIG_ECDSA = 0x02
EM_DASH = "\u2014"
MAX_SIGNATURES = 64  # the spec asks to accept at least 16


class NoteError(ValueError):
    """A note that does not parse, or whose signatures do not verify."""


@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes  # 4 bytes
    signature: bytes

    def line(self) -> str:
        return f"{EM_DASH} {self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"


@dataclass(frozen=True)
class Note:
    text: str  # ends in a newline
    signatures: tuple[NoteSignature, ...]

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signature(self, signature: NoteSignature) -> Note:
        """The note with one more signature line (one from the same key replaced)."""
        kept = tuple(s for s in self.signatures if (s.name, s.key_id) != (signature.name, signature.key_id))
        return Note(self.text, (*kept, signature))


class Verifier(Protocol):
    name: str
    key_id: bytes

    def verify(self, text: bytes, signature: bytes) -> bool: ...


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(c.isspace() for c in name)


def parse_note(data: str | bytes) -> Note:
    """Split a signed note by the spec's rules (no signature is checked here)."""
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError:
        raise NoteError("a signed note must be valid UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a signed note must not contain control characters other than newline")
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise NoteError("not a signed note: no blank line before the signatures, or no final newline")
    body, lines = text[: split + 1], text[split + 2 :].split("\n")[:-1]
    if not lines:
        raise NoteError("a signed note needs at least one signature line")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"more than {MAX_SIGNATURES} signatures")
    signatures = []
    for line in lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != EM_DASH or not _valid_name(parts[1]):
            raise NoteError(f"malformed signature line {line[:80]!r}")
        try:
            raw = base64.b64decode(parts[2], validate=True)
        except ValueError:
            raise NoteError(f"signature line for {parts[1]} is not base64") from None
        if len(raw) < 5:
            raise NoteError(f"signature line for {parts[1]} is too short")
        signatures.append(NoteSignature(parts[1], raw[:4], raw[4:]))
    return Note(body, tuple(signatures))


def verify_note(note: Note, verifiers: list[Verifier]) -> list[Verifier]:
    """The verifiers whose signature on `note` holds; NoteError if a known one fails or none holds."""
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[Verifier] = []
    for signature in note.signatures:
        verifier = known.get((signature.name, signature.key_id))
        if verifier is None:
            continue  # unknown keys are ignored, as the spec requires
        if not verifier.verify(note.text.encode(), signature.signature):
            raise NoteError(
                f"the signature of {signature.name} (key ID {signature.key_id.hex()}) is not valid"
            )
        verified.append(verifier)
    if not verified:
        names = ", ".join(f"{v.name} ({v.key_id.hex()})" for v in verifiers) or "no key"
        raise NoteError(f"no signature from a trusted key ({names}) on this note")
    return verified


# --- the log's key: ECDSA P-256 ---------------------------------------------------------------------


def load_private_key(source: str | Path | bytes | ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a PEM file path, PEM bytes, or a key object."""
    key = source
    if not isinstance(source, ec.EllipticCurvePrivateKey):
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        key = serialization.load_pem_private_key(data, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise NoteError("the ledger signing key must be an EC P-256 key")
    return key


def load_public_key(source: str | Path | bytes | ec.EllipticCurvePublicKey) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a PEM file path, PEM bytes, or a key object."""
    key = source
    if not isinstance(source, ec.EllipticCurvePublicKey):
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        key = serialization.load_pem_public_key(data)
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise NoteError("the ledger public key must be an EC P-256 key")
    return key


def spki_sha256(public_key: ec.EllipticCurvePublicKey) -> bytes:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()


class ECDSAVerifier:
    """Checks type 0x02 note signatures: ECDSA P-256 / SHA-256, DER, key ID = SHA-256(SPKI DER)[:4]."""

    def __init__(self, name: str, public_key: ec.EllipticCurvePublicKey) -> None:
        if not _valid_name(name):
            raise NoteError(f"invalid key name {name!r}")
        self.name, self.public_key = name, load_public_key(public_key)
        self.key_id = spki_sha256(self.public_key)[:4]

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, text, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True


class ECDSASigner:
    def __init__(self, name: str, private_key: ec.EllipticCurvePrivateKey) -> None:
        self.verifier = ECDSAVerifier(name, private_key.public_key())
        self.name, self.key_id, self._key = name, self.verifier.key_id, private_key

    def sign(self, text: str) -> NoteSignature:
        return NoteSignature(self.name, self.key_id, self._key.sign(text.encode(), ec.ECDSA(hashes.SHA256())))
