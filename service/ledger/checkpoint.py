"""Signed checkpoints (tree heads): their text form, ES256 signing and verification.

The signed body is four lines of text (C2SP "checkpoint" style, one extension line for the time):

    veriframe-audit-ledger/v1
    <tree size, decimal>
    <root hash, standard base64>
    timestamp <RFC 3339 UTC>

The signature is ECDSA P-256 with SHA-256 (ES256) over those bytes, DER-encoded, and stored base64.
Checking one needs only the public key (`ledger-pub.pem`), e.g. with openssl (docs/ledger.md).
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from veriframe.service.ledger.canonical import format_time

ORIGIN = "veriframe-audit-ledger/v1"


class CheckpointError(ValueError):
    """A checkpoint body that does not parse, or a key that is not P-256."""


@dataclass(frozen=True)
class CheckpointBody:
    tree_size: int
    root_hash: bytes
    timestamp: str  # RFC 3339, as signed

    def encode(self) -> bytes:
        root = base64.b64encode(self.root_hash).decode()
        return f"{ORIGIN}\n{self.tree_size}\n{root}\ntimestamp {self.timestamp}\n".encode()

    @classmethod
    def build(cls, tree_size: int, root_hash: bytes, moment: datetime) -> CheckpointBody:
        return cls(tree_size, root_hash, format_time(moment))

    @classmethod
    def parse(cls, body: bytes | str) -> CheckpointBody:
        text = body.decode() if isinstance(body, bytes) else body
        lines = text.split("\n")
        if len(lines) != 5 or lines[0] != ORIGIN or lines[4] != "" or not lines[3].startswith("timestamp "):
            raise CheckpointError("not a veriframe checkpoint body")
        try:
            size = int(lines[1])
            root = base64.b64decode(lines[2], validate=True)
        except ValueError as error:
            raise CheckpointError(f"malformed checkpoint body: {error}") from None
        if size < 0 or len(root) != 32 or str(size) != lines[1]:
            raise CheckpointError("malformed checkpoint body: bad size or root hash")
        return cls(size, root, lines[3].removeprefix("timestamp "))


def load_private_key(source: str | Path | bytes | ec.EllipticCurvePrivateKey) -> ec.EllipticCurvePrivateKey:
    """A P-256 private key from a PEM file path, PEM bytes, or a key object."""
    if isinstance(source, ec.EllipticCurvePrivateKey):
        key = source
    else:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        loaded = serialization.load_pem_private_key(data, password=None)
        if not isinstance(loaded, ec.EllipticCurvePrivateKey):
            raise CheckpointError("the ledger signing key must be an EC P-256 key")
        key = loaded
    if not isinstance(key.curve, ec.SECP256R1):
        raise CheckpointError(f"the ledger signing key must be P-256, not {key.curve.name}")
    return key


def load_public_key(source: str | Path | bytes | ec.EllipticCurvePublicKey) -> ec.EllipticCurvePublicKey:
    """A P-256 public key from a PEM file path, PEM bytes, or a key object."""
    if isinstance(source, ec.EllipticCurvePublicKey):
        key = source
    else:
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        loaded = serialization.load_pem_public_key(data)
        if not isinstance(loaded, ec.EllipticCurvePublicKey):
            raise CheckpointError("the ledger public key must be an EC P-256 key")
        key = loaded
    if not isinstance(key.curve, ec.SECP256R1):
        raise CheckpointError(f"the ledger public key must be P-256, not {key.curve.name}")
    return key


def key_id(public_key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo, hex: names the key a checkpoint was signed with."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def sign(body: CheckpointBody, private_key: ec.EllipticCurvePrivateKey) -> str:
    """ES256 signature (DER, base64) over the encoded body."""
    return base64.b64encode(private_key.sign(body.encode(), ec.ECDSA(hashes.SHA256()))).decode()


def verify_signature(body: bytes | str, signature_b64: str, public_key: ec.EllipticCurvePublicKey) -> bool:
    data = body.encode() if isinstance(body, str) else body
    try:
        public_key.verify(base64.b64decode(signature_b64, validate=True), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
