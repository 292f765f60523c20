"""Keys, C2PA manifests and signing: real c2pa-python, real certificates, no network."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import numpy as np
import pytest

from veriframe.provenance import keys, media, signing, verify, watermark
from veriframe.provenance.manifest import TRAINED_ALGORITHMIC_MEDIA, VERIFRAME_ASSERTION, ManifestInfo
from veriframe.provenance.mark import mark_video
from veriframe.provenance.prompt_commitment import PromptKey, commit_prompt
from veriframe.provenance.synthetic import natural_video

PROMPT_KEY = PromptKey(b"k" * 32)
COMMITMENT = commit_prompt("a lighthouse at dusk", PROMPT_KEY)


def _info(pid: int = 0x1122334455667788) -> ManifestInfo:
    return ManifestInfo(provenance_id=pid, model_name="cogvideox-tiny", model_version="test-1",
                        audit_ref="audit:42", params={"seed": 7, "steps": 2}, prompt_commitment=COMMITMENT)


def _anchor(directory: Path) -> list[bytes]:
    return [(directory / keys.ROOT_CA).read_bytes()]


@pytest.fixture(scope="module")
def signed(dev_keys_dir, tmp_path_factory):
    """A marked, signed 9-frame video (256x256) with signed PNG frames."""
    out = tmp_path_factory.mktemp("signed")
    frames = natural_video(9, 256, 256, seed=3)
    result = mark_video(frames, 8, out / "video.mp4", _info(), keys.load_keys_dir(dev_keys_dir),
                        frames_dir=out / "frames")
    return result


def test_keys_init_writes_private_keys_0600_and_refuses_to_overwrite(tmp_path):
    paths = keys.init_dev_keys(tmp_path / "k")
    for private in (paths.root_key, paths.signer_key, paths.ledger_key):
        assert stat.S_IMODE(private.stat().st_mode) == 0o600
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    leaf = x509.load_pem_x509_certificates(paths.signer_chain.read_bytes())[0]
    ekus = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ekus
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    ledger = serialization.load_pem_private_key(paths.ledger_key.read_bytes(), None)
    assert ledger.curve.name == "secp256r1"
    assert serialization.load_pem_public_key(paths.ledger_pub.read_bytes()).public_numbers() == \
        ledger.public_key().public_numbers()
    loaded = keys.load_keys_dir(tmp_path / "k")
    assert loaded.alg == "es256" and loaded.tsa_url is None
    with pytest.raises(keys.KeyFileError, match="refusing to overwrite"):
        keys.init_dev_keys(tmp_path / "k")


def test_load_signing_keys_rejects_mismatched_key(dev_keys_dir, other_keys_dir):
    with pytest.raises(keys.KeyFileError, match="not the key of the first certificate"):
        keys.load_signing_keys(dev_keys_dir / keys.SIGNER_CHAIN, other_keys_dir / keys.SIGNER_KEY)
    with pytest.raises(keys.KeyFileError, match="cannot read"):
        keys.load_signing_keys(dev_keys_dir / "missing.pem", dev_keys_dir / keys.SIGNER_KEY)


def test_manifest_must_not_carry_the_prompt():
    with pytest.raises(ValueError, match="prompt"):
        ManifestInfo(1, "m", "1", "a", params={"prompt": "a cat"})
    with pytest.raises(ValueError, match="prompt_commitment"):
        ManifestInfo(1, "m", "1", "a", prompt_commitment={"alg": "sha256", "value": "ab" * 32})


def test_signed_mp4_verifies_and_carries_the_manifest(signed, dev_keys_dir):
    report = verify.verify_file(signed.mp4_path, trust_anchors=_anchor(dev_keys_dir))
    assert report.verified, report.reasons
    assert report.c2pa.trusted and report.c2pa.valid and report.consistent
    assert report.watermark.id == "1122334455667788" == report.c2pa.provenance_id
    assert report.manifest_sha256 == signed.manifest_sha256
    import c2pa

    with open(signed.mp4_path, "rb") as stream:
        manifest = c2pa.Reader("video/mp4", stream).get_active_manifest()
    assert manifest["claim_generator_info"][0]["name"] == "Veriframe"
    by_label = {a["label"]: a["data"] for a in manifest["assertions"]}
    actions = by_label["c2pa.actions.v2"]["actions"]
    created = next(a for a in actions if a["action"] == "c2pa.created")
    assert created["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"] == {"name": "cogvideox-tiny", "version": "test-1"}
    assert any(a["action"] == "c2pa.watermarked" for a in actions)
    ours = by_label[VERIFRAME_ASSERTION]
    assert ours["provenance_id"] == "1122334455667788" and ours["audit_ref"] == "audit:42"
    assert ours["prompt_commitment"] == COMMITMENT and ours["params"] == {"seed": 7, "steps": 2}
    assert "prompt_sha256" not in ours and ours["version"] == 2
    assert ours["watermark"]["algorithm"] == watermark.WATERMARK_ALGORITHM
    assert "c2pa.hash.bmff.v3" in by_label


def test_signed_png_frames_name_the_video_as_parent(signed, dev_keys_dir):
    assert len(signed.frame_paths) == 9
    report = verify.verify_file(signed.frame_paths[4], trust_anchors=_anchor(dev_keys_dir))
    assert report.verified, report.reasons
    import c2pa

    with open(signed.frame_paths[4], "rb") as stream:
        manifest = c2pa.Reader("image/png", stream).get_active_manifest()
    assert [i["relationship"] for i in manifest["ingredients"]] == ["parentOf"]
    assert manifest["ingredients"][0]["title"] == "video.mp4"
    assert not any(a["label"].startswith("c2pa.thumbnail") for a in manifest["assertions"])
    ours = next(a["data"] for a in manifest["assertions"] if a["label"] == VERIFRAME_ASSERTION)
    assert ours["frame_index"] == 4
    assert report.c2pa.digital_source_type == TRAINED_ALGORITHMIC_MEDIA


def test_untrusted_signer_is_reported(signed, other_keys_dir):
    for anchors in ([], _anchor(other_keys_dir)):
        report = verify.verify_file(signed.mp4_path, trust_anchors=anchors)
        assert not report.verified and report.c2pa.valid and not report.c2pa.trusted
        assert any("untrusted" in e for e in report.c2pa.errors)
        assert report.watermark.found


def test_tampered_mp4_is_detected(signed, dev_keys_dir, tmp_path):
    data = bytearray(signed.mp4_path.read_bytes())
    mdat = data.find(b"mdat")
    data[mdat + 5000] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    report = verify.verify_file(tampered, trust_anchors=_anchor(dev_keys_dir))
    assert not report.verified and report.c2pa.present and not report.c2pa.valid
    assert any("bmffHash.mismatch" in e for e in report.c2pa.errors)


def test_tampered_png_is_detected(signed, dev_keys_dir, tmp_path):
    from PIL import Image

    with Image.open(signed.frame_paths[0]) as image:
        pixels = np.asarray(image.convert("RGB")).copy()
    pixels[10, 10] ^= 0x01
    # Rewrite only the pixel data, keeping the manifest chunk: decode, edit, re-insert caBX.
    store = verify.embedded_manifest_store(signed.frame_paths[0].read_bytes(), "image/png")
    edited = tmp_path / "edited.png"
    media.write_png(pixels, edited)
    raw = edited.read_bytes()
    import struct
    import zlib

    chunk = struct.pack(">I", len(store)) + b"caBX" + store
    chunk += struct.pack(">I", zlib.crc32(b"caBX" + store) & 0xFFFFFFFF)
    ihdr_end = 8 + 12 + struct.unpack(">I", raw[8:12])[0]
    edited.write_bytes(raw[:ihdr_end] + chunk + raw[ihdr_end:])
    report = verify.verify_file(edited, trust_anchors=_anchor(dev_keys_dir))
    assert report.c2pa.present and not report.c2pa.valid and not report.verified
    assert any("dataHash.mismatch" in e for e in report.c2pa.errors)


def test_reencoded_video_reports_watermark_but_no_manifest(signed, tmp_path):
    frames, fps = media.decode_video(signed.mp4_path)
    media.encode_mp4(frames, round(fps), tmp_path / "re.mp4", crf=28)
    report = verify.verify_file(tmp_path / "re.mp4")
    assert not report.verified and not report.c2pa.present
    assert report.watermark.found and report.watermark.id == "1122334455667788"
    assert report.reasons == ["manifest missing"]
    assert "watermark found" in report.summary() and "manifest missing" in report.summary()


def test_id_mismatch_is_reported(dev_keys_dir, tmp_path):
    frames = watermark.embed_frames(natural_video(4, 256, 256, seed=9), 0xAAAA)
    media.encode_mp4(frames, 8, tmp_path / "a.mp4")
    signing.sign_mp4(tmp_path / "a.mp4", tmp_path / "s.mp4", _info(0xBBBB), keys.load_keys_dir(dev_keys_dir))
    report = verify.verify_file(tmp_path / "s.mp4", trust_anchors=_anchor(dev_keys_dir))
    assert report.consistent is False and not report.verified
    assert report.c2pa.trusted and report.watermark.id == f"{0xAAAA:016x}"


def test_unreadable_inputs_raise(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypisom" + b"\x00" * 100)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    for name, message in [("notes.txt", "not an MP4, PNG or JPEG"), ("broken.mp4", "video"),
                          ("broken.png", "image"), ("missing.mp4", "cannot read")]:
        with pytest.raises(verify.UnreadableInput, match=message):
            verify.verify_file(tmp_path / name)


def test_report_json_schema(signed, dev_keys_dir):
    data = verify.verify_file(signed.mp4_path, trust_anchors=_anchor(dev_keys_dir)).to_json()
    json.dumps(data)
    assert data["verdict"] == "verified" and data["consistent"] is True
    assert {"found", "id", "confidence"} <= data["watermark"].keys()
    assert {"present", "valid", "trusted", "errors"} <= data["c2pa"].keys()


def test_long_video_is_verified_not_rejected(dev_keys_dir, tmp_path):
    """A 2,100-frame video (over the 2,000 frames verification used to hold in memory, then refuse) is
    verified from an evenly spaced sample decoded as a stream."""
    import av

    marked = watermark.embed_frames(natural_video(9, 256, 256, seed=5), 0x5151)
    with av.open(str(tmp_path / "long.mp4"), mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=8)
        stream.width, stream.height, stream.pix_fmt = 256, 256, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "17"}
        for i in range(2100):  # written a frame at a time: the test holds 9 frames, not 2,100
            for packet in stream.encode(av.VideoFrame.from_ndarray(marked[i % 9], format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    signing.sign_mp4(tmp_path / "long.mp4", tmp_path / "signed.mp4", _info(0x5151),
                     keys.load_keys_dir(dev_keys_dir))
    report = verify.verify_file(tmp_path / "signed.mp4", trust_anchors=_anchor(dev_keys_dir))
    assert report.verified, report.reasons
    assert report.watermark.id == f"{0x5151:016x}"
    assert report.watermark.frames_analyzed == verify.DETECT_FRAMES
