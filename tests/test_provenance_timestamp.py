"""RFC 3161 timestamps on C2PA signatures, against a local timestamp authority written here.

The responder follows RFC 3161 (TimeStampReq in, TimeStampResp with a CMS SignedData over a TSTInfo
out, signed by a certificate with the critical timeStamping EKU) using asn1crypto and cryptography.
Why production needs a TSA: without one a manifest stops validating once its signer certificate
expires; with one, c2pa-rs checks the certificate at the time the TSA vouches for.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

asn1crypto = pytest.importorskip("asn1crypto", reason="asn1crypto (dev extra) builds the test TSA")

from asn1crypto import cms, core, tsp  # noqa: E402
from asn1crypto import x509 as asn1_x509  # noqa: E402
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

from veriframe.provenance import keys, media, signing, verify  # noqa: E402
from veriframe.provenance.manifest import ManifestInfo  # noqa: E402
from veriframe.provenance.synthetic import natural_video  # noqa: E402
from veriframe.provenance.watermark import embed_frames  # noqa: E402

PID = 0x7117


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=not ca, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=ca, crl_sign=ca,
                         encipher_only=False, decipher_only=False)


def _issue(subject: str, issuer: x509.Name, issuer_key, public_key, *, ca: bool, eku, not_after,
           critical_eku: bool = False) -> x509.Certificate:
    now = dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
               .add_extension(_usage(ca=ca), critical=True)
               .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
               .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
                              critical=False))
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=critical_eku)
    return builder.sign(issuer_key, hashes.SHA256())


class Authority:
    """A TSA: its root, its certificate and key, and the HTTP endpoint serving RFC 3161."""

    def __init__(self) -> None:
        later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
        root_key = ec.generate_private_key(ec.SECP256R1())
        self.root = _issue("Test TSA root", _name("Test TSA root"), root_key, root_key.public_key(), ca=True,
                           eku=None, not_after=later)
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = _issue("Test TSA", self.root.subject, root_key, self.key.public_key(), ca=False,
                           eku=[ExtendedKeyUsageOID.TIME_STAMPING], not_after=later, critical_eku=True)
        self.requests: list[str] = []

    def respond(self, request_der: bytes) -> bytes:
        request = tsp.TimeStampReq.load(request_der)
        cert_der = self.cert.public_bytes(serialization.Encoding.DER)
        cert = asn1_x509.Certificate.load(cert_der)
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
        info = {"version": "v1", "policy": "1.3.6.1.4.1.99999.1", "gen_time": now,
                "message_imprint": request["message_imprint"],
                "serial_number": int.from_bytes(os.urandom(8), "big")}
        if request["nonce"].native is not None:
            info["nonce"] = request["nonce"].native
        tst = tsp.TSTInfo(info).dump()
        essid = tsp.ESSCertIDv2({"hash_algorithm": {"algorithm": "sha256"},
                                 "cert_hash": hashlib.sha256(cert_der).digest()})
        attributes = cms.CMSAttributes([
            cms.CMSAttribute({"type": "content_type", "values": ["tst_info"]}),
            cms.CMSAttribute({"type": "message_digest", "values": [hashlib.sha256(tst).digest()]}),
            cms.CMSAttribute({"type": "signing_certificate_v2",
                              "values": [tsp.SigningCertificateV2({"certs": [essid]})]}),
        ])
        signer = cms.SignerInfo({
            "version": "v1",
            "sid": cms.SignerIdentifier({"issuer_and_serial_number": cms.IssuerAndSerialNumber(
                {"issuer": cert.issuer, "serial_number": cert.serial_number})}),
            "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": attributes,
            "signature_algorithm": {"algorithm": "sha256_ecdsa"},
            "signature": self.key.sign(attributes.dump(), ec.ECDSA(hashes.SHA256())),
        })
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": core.ParsableOctetString(tst)},
            "certificates": [cert] if request["cert_req"].native else [], "signer_infos": [signer],
        })
        token = cms.ContentInfo({"content_type": "signed_data", "content": signed})
        return tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump()


@pytest.fixture(scope="module")
def tsa() -> Iterator[tuple[Authority, str]]:
    authority = Authority()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            authority.requests.append(self.headers.get("Content-Type", ""))
            reply = authority.respond(body)
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield authority, f"http://127.0.0.1:{server.server_port}/tsa"
    server.shutdown()


def _video(tmp_path: Path) -> Path:
    path = tmp_path / "unsigned.mp4"
    media.encode_mp4(embed_frames(natural_video(3, 256, 256, seed=2), PID), 8, path)
    return path


def _info() -> ManifestInfo:
    return ManifestInfo(provenance_id=PID, model_name="m", model_version="1", audit_ref="a")


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def test_tsa_url_puts_a_timestamp_on_the_signature(tsa, dev_keys_dir, tmp_path):
    authority, url = tsa
    before = len(authority.requests)
    signing.sign_mp4(_video(tmp_path), tmp_path / "stamped.mp4", _info(),
                     keys.load_keys_dir(dev_keys_dir, tsa_url=url))
    assert authority.requests[before:] == ["application/timestamp-query"]
    root = (dev_keys_dir / keys.ROOT_CA).read_bytes()
    report = verify.verify_file(tmp_path / "stamped.mp4", trust_anchors=[root])
    assert report.verified, report.reasons
    assert report.c2pa.timestamp is not None and not report.c2pa.timestamp_trusted
    signed_at = dt.datetime.fromisoformat(report.c2pa.timestamp)
    assert abs((dt.datetime.now(dt.timezone.utc) - signed_at).total_seconds()) < 120
    trusted = verify.verify_file(tmp_path / "stamped.mp4", trust_anchors=[root, _pem(authority.root)])
    assert trusted.c2pa.timestamp_trusted
    plain = tmp_path / "plain.mp4"
    signing.sign_mp4(_video(tmp_path), plain, _info(), keys.load_keys_dir(dev_keys_dir))
    assert verify.verify_file(plain, trust_anchors=[root]).c2pa.timestamp is None


def test_timestamp_keeps_a_manifest_valid_after_the_signer_expires(tsa, dev_keys_dir, tmp_path):
    """The reason production needs a TSA, shown: a signer certificate that expires seconds after
    signing; without a timestamp the manifest is then invalid, with one it still validates."""
    authority, url = tsa
    root_key = serialization.load_pem_private_key((dev_keys_dir / keys.ROOT_CA_KEY).read_bytes(), None)
    root = x509.load_pem_x509_certificate((dev_keys_dir / keys.ROOT_CA).read_bytes())
    signer_key = ec.generate_private_key(ec.SECP256R1())
    expires = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=4)
    leaf = _issue("short-lived signer", root.subject, root_key, signer_key.public_key(), ca=False,
                  eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION, keys.C2PA_SIGNER_EKU], not_after=expires)
    chain, key_path = tmp_path / "chain.pem", tmp_path / "key.pem"
    chain.write_bytes(_pem(leaf) + _pem(root))
    key_path.write_bytes(signer_key.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
    source = _video(tmp_path)
    signing.sign_mp4(source, tmp_path / "bare.mp4", _info(), keys.load_signing_keys(chain, key_path))
    signing.sign_mp4(source, tmp_path / "stamped.mp4", _info(),
                     keys.load_signing_keys(chain, key_path, tsa_url=url))
    time.sleep(max(0.0, (expires - dt.datetime.now(dt.timezone.utc)).total_seconds()) + 1.5)
    anchors = [_pem(root)]
    bare = verify.verify_file(tmp_path / "bare.mp4", trust_anchors=anchors)
    assert not bare.verified and not bare.c2pa.valid
    assert any("signingCredential.expired" in e for e in bare.c2pa.errors), bare.c2pa.errors
    stamped = verify.verify_file(tmp_path / "stamped.mp4", trust_anchors=[*anchors, _pem(authority.root)])
    assert stamped.verified, stamped.reasons
    assert stamped.c2pa.timestamp_trusted
    # c2pa-rs uses the timestamp's time only when the TSA itself is trusted: verifiers need its root.
    untrusted_tsa = verify.verify_file(tmp_path / "stamped.mp4", trust_anchors=anchors)
    assert any("signingCredential.expired" in e for e in untrusted_tsa.c2pa.errors)
    assert stamped.c2pa.timestamp is not None


def test_unreachable_tsa_fails_signing_and_writes_nothing(dev_keys_dir, tmp_path):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    out = tmp_path / "never.mp4"
    with pytest.raises(signing.SigningError):
        signing.sign_mp4(_video(tmp_path), out, _info(),
                         keys.load_keys_dir(dev_keys_dir, tsa_url=f"http://127.0.0.1:{port}/tsa"))
    assert not out.exists() and not list(tmp_path.glob("*.partial"))
