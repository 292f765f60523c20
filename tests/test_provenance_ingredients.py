"""I2V/V2V inputs as C2PA ``inputTo`` ingredients of the output manifest, read back with c2pa.Reader."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from veriframe.provenance import keys, media, verify
from veriframe.provenance.manifest import INGREDIENT_SHA256_KEY, ManifestInfo
from veriframe.provenance.mark import describe_input, mark_video
from veriframe.provenance.synthetic import natural_video


def _manifest(path: Path, anchors: list[bytes]) -> tuple[dict, str]:
    import c2pa

    from veriframe.provenance.manifest_store import trust_settings

    context = c2pa.Context.from_dict(trust_settings(anchors))
    with open(path, "rb") as stream, c2pa.Reader("video/mp4", stream, context=context) as reader:
        return reader.get_active_manifest(), reader.get_validation_state()


def _mark_with_input(tmp_path: Path, source: Path, dev_keys_dir: Path) -> Path:
    info = ManifestInfo(provenance_id=0xC0FFEE, model_name="m", model_version="1", audit_ref="a",
                        input=describe_input(source))
    out = tmp_path / "out.mp4"
    mark_video(natural_video(3, 256, 256, seed=4), 8, out, info, keys.load_keys_dir(dev_keys_dir))
    return out


def test_signed_input_keeps_its_own_manifest(tmp_path, dev_keys_dir):
    """A v2v input that is itself a signed Veriframe video: its manifest becomes the ingredient's."""
    first = tmp_path / "first.mp4"
    mark_video(natural_video(3, 256, 256, seed=1), 8, first,
               ManifestInfo(provenance_id=0xAB, model_name="m", model_version="1", audit_ref="first"),
               keys.load_keys_dir(dev_keys_dir))
    out = _mark_with_input(tmp_path, first, dev_keys_dir)
    anchors = [(dev_keys_dir / keys.ROOT_CA).read_bytes()]
    manifest, state = _manifest(out, anchors)
    assert state == "Trusted"
    (ingredient,) = manifest["ingredients"]
    assert ingredient["relationship"] == "inputTo" and ingredient["format"] == "video/mp4"
    assert ingredient["title"] == "input video"  # never the uploaded file's name
    assert ingredient["metadata"][INGREDIENT_SHA256_KEY] == hashlib.sha256(first.read_bytes()).hexdigest()
    # The input's own manifest travels with it: the store holds it and the ingredient points at it.
    import c2pa

    with open(first, "rb") as stream, c2pa.Reader("video/mp4", stream) as reader:
        first_label = reader.get_active_manifest()["label"]
    assert ingredient["active_manifest"] == first_label
    actions = next(a["data"]["actions"] for a in manifest["assertions"] if a["label"] == "c2pa.actions.v2")
    created = next(a for a in actions if a["action"] == "c2pa.created")
    assert created["parameters"]["ingredients"], "c2pa.created must reference the input ingredient"
    report = verify.verify_file(out, trust_anchors=anchors)
    assert report.verified, report.reasons
    assert report.c2pa.ingredients == [{"title": "input video", "format": "video/mp4",
                                        "relationship": "inputTo", "sha256": ingredient["metadata"][
                                            INGREDIENT_SHA256_KEY], "manifest": first_label}]


def test_plain_input_image_is_recorded_with_its_hash(tmp_path, dev_keys_dir):
    image = tmp_path / "start.jpg"
    from PIL import Image

    Image.fromarray(natural_video(1, 256, 256, seed=2)[0]).save(image, quality=90)
    out = _mark_with_input(tmp_path, image, dev_keys_dir)
    manifest, state = _manifest(out, [(dev_keys_dir / keys.ROOT_CA).read_bytes()])
    assert state == "Trusted"
    (ingredient,) = manifest["ingredients"]
    assert (ingredient["relationship"], ingredient["format"], ingredient["title"]) == (
        "inputTo", "image/jpeg", "input image")
    assert ingredient["metadata"][INGREDIENT_SHA256_KEY] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert "active_manifest" not in ingredient


def test_input_with_a_damaged_manifest_is_kept_without_it(tmp_path, dev_keys_dir):
    """An uploaded image can carry any bytes in its C2PA chunk: signing the output must not fail on it
    (after the GPU time is spent); the ingredient is recorded, with its hash, and says why."""
    first = tmp_path / "first.mp4"
    mark_video(natural_video(3, 256, 256, seed=1), 8, first,
               ManifestInfo(provenance_id=0xAB, model_name="m", model_version="1", audit_ref="first"),
               keys.load_keys_dir(dev_keys_dir), frames_dir=tmp_path / "frames")
    frame = (tmp_path / "frames" / "frame_0000.png").read_bytes()
    start = frame.find(b"caBX") + 4
    import random

    rng, outcomes = random.Random(9), []
    for attempt in range(12):
        damaged = bytearray(frame)
        damaged[start + rng.randrange(0, 8000)] ^= 1 << rng.randrange(8)
        source = tmp_path / f"damaged-{attempt}.png"
        source.write_bytes(bytes(damaged))
        out = _mark_with_input(tmp_path, source, dev_keys_dir)
        manifest, state = _manifest(out, [(dev_keys_dir / keys.ROOT_CA).read_bytes()])
        assert state == "Trusted"
        (ingredient,) = manifest["ingredients"]
        assert ingredient["relationship"] == "inputTo" and ingredient["format"] == "image/png"
        assert ingredient["metadata"][INGREDIENT_SHA256_KEY] == hashlib.sha256(bytes(damaged)).hexdigest()
        outcomes.append("could not be read" in ingredient.get("description", ""))
    assert any(outcomes), "no flip made c2pa-rs refuse the input's manifest: the fallback went untested"


def test_t2v_output_has_no_ingredient(tmp_path, dev_keys_dir):
    out = tmp_path / "t2v.mp4"
    mark_video(natural_video(3, 256, 256, seed=1), 8, out,
               ManifestInfo(provenance_id=0xAB, model_name="m", model_version="1", audit_ref="a"),
               keys.load_keys_dir(dev_keys_dir))
    manifest, _ = _manifest(out, [])
    assert not manifest.get("ingredients")


def test_describe_input_refuses_unknown_formats(tmp_path):
    (tmp_path / "x.gif").write_bytes(b"GIF89a" + bytes(20))
    with pytest.raises(media.MediaError, match="not an MP4, PNG, JPEG or WebP"):
        describe_input(tmp_path / "x.gif")


def test_service_i2v_output_lists_its_input_image(live_server, tmp_path):
    """The service records the uploaded image as the ``inputTo`` ingredient of the I2V output."""
    from tests.fixtures.server import TEST_PARAMS

    image = tmp_path / "start.png"
    media.write_png(np.random.default_rng(1).integers(0, 255, (256, 256, 3), dtype=np.uint8), image)
    with live_server.client(tenant="i2v-ingredient") as client:
        result = client.generate("a calm lake at sunrise", output=tmp_path / "i2v.mp4", image=image,
                                 **TEST_PARAMS)
    assert result.verification.verified
    manifest, state = _manifest(tmp_path / "i2v.mp4", [])
    assert state in ("Valid", "Trusted")
    (ingredient,) = manifest["ingredients"]
    assert ingredient["relationship"] == "inputTo" and ingredient["format"] == "image/png"
    assert ingredient["metadata"][INGREDIENT_SHA256_KEY] == hashlib.sha256(image.read_bytes()).hexdigest()
    ours = next(a["data"] for a in manifest["assertions"] if a["label"] == "org.veriframe.provenance")
    assert ours["version"] == 2 and "prompt_sha256" not in ours
    assert ours["prompt_commitment"]["alg"] == "hmac-sha256"
