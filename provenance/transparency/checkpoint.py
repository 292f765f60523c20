"""Checkpoints (signed tree heads) in the C2SP tlog-checkpoint format, and the legacy v1 bodies.

    <origin>                      the log's identity, e.g. veriframe.ledger/3f1c9a0b
    <tree size, decimal>
    <root hash, standard base64>
    <blank line>
    — <origin> base64(key ID || ECDSA P-256 signature)     (signed-note, type 0x02)
    — <witness name> base64(key ID || timestamp || Ed25519)  (cosignatures, optional)

The origin of a Veriframe ledger is `veriframe.ledger/` + the first 8 hex digits of the SHA-256 of
the log key's SubjectPublicKeyInfo (= the note key ID), so a new key is a new log identity.

Legacy v1 (ledgers written before the C2SP format): the body was
`veriframe-audit-ledger/v1\\n<size>\\n<base64 root>\\ntimestamp <RFC 3339>\\n` with a separate base64
DER ES256 signature. `LegacyCheckpoint` keeps those rows verifying.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from veriframe.provenance.transparency.note import (
    ECDSASigner,
    ECDSAVerifier,
    Note,
    NoteError,
    Verifier,
    parse_note,
    spki_sha256,
    verify_note,
)

HASH_SIZE = 32
LEGACY_ORIGIN = "veriframe-audit-ledger/v1"


class CheckpointError(NoteError):
    """A checkpoint that does not parse or whose signature does not hold."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        lines = [
            self.origin,
            str(self.tree_size),
            base64.b64encode(self.root_hash).decode(),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        """A checkpoint from a note's text (the tlog-checkpoint rules)."""
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise CheckpointError(
                "a checkpoint body is at least three non-empty lines, each ending in a newline"
            )
        origin, size, root = lines[0], lines[1], lines[2]
        if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
            raise CheckpointError(
                f"checkpoint tree size {size[:30]!r} is not a decimal without leading zeroes"
            )
        try:
            root_hash = base64.b64decode(root, validate=True)
        except ValueError:
            raise CheckpointError("checkpoint root hash is not base64") from None
        if len(root_hash) != HASH_SIZE or base64.b64encode(root_hash).decode() != root:
            raise CheckpointError("checkpoint root hash is not a base64 SHA-256 hash")
        return cls(origin, int(size), root_hash, tuple(lines[3:-1]))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint whose log signature was checked; `note` is the full signed note (all signatures)."""

    checkpoint: Checkpoint
    note: Note
    verified_by: tuple[str, ...]  # names of the keys whose signatures held

    @property
    def text(self) -> str:
        return self.note.encode()


def origin_for(public_key: ec.EllipticCurvePublicKey) -> str:
    return "veriframe.ledger/" + spki_sha256(public_key)[:4].hex()


def log_verifier(public_key: ec.EllipticCurvePublicKey, origin: str | None = None) -> ECDSAVerifier:
    """The verifier of a Veriframe ledger's checkpoints (key name = origin)."""
    return ECDSAVerifier(origin or origin_for(public_key), public_key)


def sign_checkpoint(checkpoint: Checkpoint, private_key: ec.EllipticCurvePrivateKey) -> Note:
    signer = ECDSASigner(checkpoint.origin, private_key)
    text = checkpoint.body()
    return Note(text, (signer.sign(text),))


def open_checkpoint(
    data: str | bytes, log: ECDSAVerifier, cosigners: list[Verifier] | None = None, quorum: int = 0
) -> SignedCheckpoint:
    """Parse a checkpoint note and check the log's signature, and at least `quorum` cosignatures.

    Raises CheckpointError (a NoteError) saying what failed.
    """
    note = parse_note(data)
    checkpoint = Checkpoint.parse(note.text)
    if checkpoint.origin != log.name:
        raise CheckpointError(f"checkpoint of log {checkpoint.origin!r}, expected {log.name!r}")
    try:
        verify_note(note, [log])
    except NoteError as error:
        raise CheckpointError(f"log signature: {error}") from None
    names = [log.name]
    if quorum:
        try:
            cosigned = verify_note(note, list(cosigners or []))
        except NoteError as error:
            raise CheckpointError(f"witness cosignature: {error}") from None
        if len(cosigned) < quorum:
            missing = [f"{v.name} ({v.key_id.hex()})" for v in cosigners or [] if v not in cosigned]
            raise CheckpointError(
                f"{len(cosigned)} witness cosignature(s) ({', '.join(v.name for v in cosigned)}), "
                f"{quorum} required; none from {', '.join(missing)}"
            )
        names += [v.name for v in cosigned]
    return SignedCheckpoint(checkpoint, note, tuple(names))


def cosigned_by(data: str | bytes, cosigners: list[Verifier]) -> list[str]:
    """Names of the `cosigners` whose signature on the note holds (the others: absent or invalid)."""
    note = parse_note(data)
    known = {(v.name, v.key_id): v for v in cosigners}
    return [
        known[(s.name, s.key_id)].name
        for s in note.signatures
        if (s.name, s.key_id) in known and known[(s.name, s.key_id)].verify(note.text.encode(), s.signature)
    ]


@dataclass(frozen=True)
class LegacyCheckpoint:
    """A v1 checkpoint row: body with a timestamp line, signature as base64 DER ES256 over the body."""

    tree_size: int
    root_hash: bytes
    timestamp: str

    @classmethod
    def parse(cls, body: str) -> LegacyCheckpoint:
        lines = body.split("\n")
        if (
            len(lines) != 5
            or lines[0] != LEGACY_ORIGIN
            or lines[4] != ""
            or not lines[3].startswith("timestamp ")
        ):
            raise CheckpointError("not a v1 veriframe checkpoint body")
        try:
            size, root = int(lines[1]), base64.b64decode(lines[2], validate=True)
        except ValueError as error:
            raise CheckpointError(f"malformed v1 checkpoint body: {error}") from None
        if size < 0 or len(root) != HASH_SIZE or str(size) != lines[1]:
            raise CheckpointError("malformed v1 checkpoint body: bad size or root hash")
        return cls(size, root, lines[3].removeprefix("timestamp "))

    @staticmethod
    def verify(body: str, signature_b64: str, public_key: ec.EllipticCurvePublicKey) -> bool:
        try:
            public_key.verify(
                base64.b64decode(signature_b64, validate=True), body.encode(), ec.ECDSA(hashes.SHA256())
            )
        except (InvalidSignature, ValueError):
            return False
        return True
