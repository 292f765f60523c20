"""Signing keys and certificates: a development CA, production keys by path, the ledger key pair.

``init_dev_keys(DIR)`` writes (private keys mode 0600)::

    root-ca.pem         development root CA certificate (give it to verifiers as a trust anchor)
    root-ca-key.pem     its private key (keep it offline; only needed to issue more signers)
    signer-chain.pem    the ES256 (P-256) C2PA signing certificate followed by the root
    signer-key.pem      the signing key
    ledger-key.pem      P-256 key that signs audit-ledger checkpoints
    ledger-pub.pem      its public key
    prompt-commitment.key  the secret of the manifests' keyed prompt commitments (keep it like a key)

The signing certificate has digitalSignature key usage and the emailProtection EKU (plus the C2PA EKU):
c2pa-rs (0.38 defaults) refuses signers without one of its accepted EKUs.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

C2PA_SIGNER_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.62558.2.1")
ROOT_CA, ROOT_CA_KEY = "root-ca.pem", "root-ca-key.pem"
SIGNER_CHAIN, SIGNER_KEY = "signer-chain.pem", "signer-key.pem"
LEDGER_KEY, LEDGER_PUB = "ledger-key.pem", "ledger-pub.pem"


class KeyFileError(ValueError):
    """A key or certificate file is missing, unreadable or unsuitable (the message says which)."""


@dataclass(frozen=True)
class KeyPaths:
    root_cert: Path
    root_key: Path
    signer_chain: Path
    signer_key: Path
    ledger_key: Path
    ledger_pub: Path


@dataclass(frozen=True)
class SigningKeys:
    """What the C2PA signer needs: PEM chain (signer first), PEM private key, algorithm, optional TSA."""

    chain_pem: bytes
    key_pem: bytes
    alg: str  # c2pa algorithm name: es256, es384, es512, ps256, ed25519
    tsa_url: str | None = None

    @property
    def signer_certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]


def _write(path: Path, data: bytes, private: bool) -> None:
    if path.exists():
        raise KeyFileError(f"{path} already exists: refusing to overwrite keys")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    fd = os.open(path, flags, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    if private:
        os.chmod(path, 0o600)  # the umask cannot widen it, but be explicit


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Veriframe development"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    """CA: keyCertSign + cRLSign; signer: digitalSignature only."""
    return x509.KeyUsage(digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign,
                         crl_sign=cert_sign, encipher_only=False, decipher_only=False)


def init_dev_keys(directory: str | Path, *, signer_days: int = 730, root_days: int = 3650) -> KeyPaths:
    """Create a development root CA, an ES256 C2PA signer issued by it, and the ledger key pair."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    paths = KeyPaths(out / ROOT_CA, out / ROOT_CA_KEY, out / SIGNER_CHAIN, out / SIGNER_KEY,
                     out / LEDGER_KEY, out / LEDGER_PUB)
    from veriframe.provenance.prompt_commitment import KEY_FILE, create_prompt_key

    existing = [str(p) for p in [*vars(paths).values(), out / KEY_FILE] if p.exists()]
    if existing:
        raise KeyFileError(f"refusing to overwrite existing key files: {', '.join(existing)}")
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)

    root_key = ec.generate_private_key(ec.SECP256R1())
    root_name = _name("Veriframe development root CA")
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=root_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()), critical=False)
        .sign(root_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        x509.CertificateBuilder().subject_name(_name("Veriframe development C2PA signer"))
        .issuer_name(root_name).public_key(signer_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=signer_days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(cert_sign=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_SIGNER_EKU]),
                       critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(signer_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                       critical=False)
        .sign(root_key, hashes.SHA256())
    )
    ledger_key = ec.generate_private_key(ec.SECP256R1())
    pem = serialization.Encoding.PEM
    _write(paths.root_cert, root.public_bytes(pem), private=False)
    _write(paths.root_key, _key_pem(root_key), private=True)
    _write(paths.signer_chain, signer.public_bytes(pem) + root.public_bytes(pem), private=False)
    _write(paths.signer_key, _key_pem(signer_key), private=True)
    _write(paths.ledger_key, _key_pem(ledger_key), private=True)
    _write(paths.ledger_pub, ledger_key.public_key().public_bytes(
        pem, serialization.PublicFormat.SubjectPublicKeyInfo), private=False)
    create_prompt_key(out / KEY_FILE)
    return paths


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read {what} {path}: {exc.strerror or exc}") from exc


def _alg_for(key: object) -> str:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        algs = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}
        if key.curve.name in algs:
            return algs[key.curve.name]
        raise KeyFileError(f"unsupported EC curve {key.curve.name} (use P-256, P-384 or P-521)")
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    if isinstance(key, rsa.RSAPrivateKey):
        return "ps256"
    raise KeyFileError(f"unsupported signing key type {type(key).__name__}")


def load_signing_keys(cert_chain_path: str | Path, key_path: str | Path, *,
                      tsa_url: str | None = None) -> SigningKeys:
    """Load a PEM certificate chain (signer first) and its PEM private key; checks that they match."""
    chain_pem = _read(cert_chain_path, "certificate chain")
    key_pem = _read(key_path, "private key")
    try:
        chain = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise KeyFileError(f"{cert_chain_path}: not a PEM certificate chain ({exc})") from exc
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFileError(f"{key_path}: not an unencrypted PEM private key ({exc})") from exc
    pub = serialization.PublicFormat.SubjectPublicKeyInfo
    if (chain[0].public_key().public_bytes(serialization.Encoding.DER, pub)
            != key.public_key().public_bytes(serialization.Encoding.DER, pub)):
        raise KeyFileError(f"{key_path} is not the key of the first certificate in {cert_chain_path}")
    return SigningKeys(chain_pem, key_pem, _alg_for(key), tsa_url)


def load_keys_dir(directory: str | Path, *, tsa_url: str | None = None) -> SigningKeys:
    """The signing keys of a directory made by :func:`init_dev_keys` (or laid out the same way)."""
    out = Path(directory)
    return load_signing_keys(out / SIGNER_CHAIN, out / SIGNER_KEY, tsa_url=tsa_url)


def load_trust_anchors(paths: list[str | Path]) -> list[bytes]:
    """Read PEM trust anchors. Each path is a PEM file (one certificate, or a bundle such as the C2PA
    trust list, text between certificates ignored) or a directory of them (``*.pem``, ``*.crt``)."""
    anchors = []
    for path in paths:
        files = (sorted(p for p in Path(path).iterdir() if p.suffix in (".pem", ".crt"))
                 if Path(path).is_dir() else [Path(path)])
        if not files:
            raise KeyFileError(f"{path}: a directory with no .pem or .crt files")
        for file in files:
            data = _read(file, "trust anchor")
            try:
                x509.load_pem_x509_certificates(data)
            except ValueError as exc:
                raise KeyFileError(f"{file}: not a PEM certificate ({exc})") from exc
            anchors.append(data)
    return anchors
