"""`veriframe-verify`, `veriframe provenance mark` and `veriframe keys init` through their CLIs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veriframe.provenance import media
from veriframe.provenance.synthetic import natural_video
from veriframe.service.cli import app as veriframe_app
from veriframe.service.cli.verify import app as verify_app

runner = CliRunner()


@pytest.fixture(scope="module")
def marked(dev_keys_dir, tmp_path_factory):
    """`veriframe provenance mark` applied to a plain 9-frame video (with signed PNG frames)."""
    out = tmp_path_factory.mktemp("cli")
    media.encode_mp4(natural_video(9, 256, 320, seed=21), 8, out / "in.mp4")
    result = runner.invoke(veriframe_app, ["provenance", "mark", str(out / "in.mp4"), str(out / "out.mp4"),
                                           "--keys", str(dev_keys_dir), "--frames-dir", str(out / "frames"),
                                           "--json"])
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def _verify(*args: str, env: dict[str, str] | None = None):
    return runner.invoke(verify_app, list(args), env=env)


def test_mark_prints_id_and_outputs(marked):
    _out, info = marked
    assert len(info["provenance_id"]) == 16 and int(info["provenance_id"], 16) >= 0
    assert Path(info["output"]).is_file() and len(info["frames"]) == 9
    assert len(info["manifest_sha256"]) == 64


def test_verify_trusted_with_anchor_exits_0(marked, dev_keys_dir):
    out, info = marked
    root = str(dev_keys_dir / "root-ca.pem")
    result = _verify(str(out / "out.mp4"), str(out / "frames" / "frame_0002.png"), "--trust-anchor", root,
                     "--json")
    assert result.exit_code == 0, result.output
    reports = json.loads(result.stdout)
    for report in reports:
        assert report["verdict"] == "verified" and report["consistent"] is True
        assert report["watermark"]["found"] and report["watermark"]["id"] == info["provenance_id"]
        assert report["watermark"]["confidence"] > 0.9
        assert report["c2pa"]["present"] and report["c2pa"]["valid"]
        assert report["c2pa"]["trusted"] and report["c2pa"]["errors"] == []


def test_verify_trust_anchor_from_environment(marked, dev_keys_dir, other_keys_dir):
    out, _ = marked
    env_value = os.pathsep.join([str(other_keys_dir / "root-ca.pem"), str(dev_keys_dir / "root-ca.pem")])
    result = _verify(str(out / "out.mp4"), env={"VERIFRAME_TRUST_ANCHORS": env_value})
    assert result.exit_code == 0, result.output
    assert "VERIFIED" in result.stdout


def test_verify_untrusted_and_unmarked_exit_1(marked, other_keys_dir):
    out, _info = marked
    result = _verify(str(out / "out.mp4"), "--trust-anchor", str(other_keys_dir / "root-ca.pem"))
    assert result.exit_code == 1 and "untrusted" in result.stdout
    result = _verify(str(out / "in.mp4"), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)[0]
    assert report["watermark"]["found"] is False and report["c2pa"]["present"] is False


def test_verify_stripped_manifest_still_names_the_id(marked, tmp_path):
    out, info = marked
    frames, fps = media.decode_video(out / "out.mp4")
    media.encode_mp4(frames, round(fps), tmp_path / "re.mp4", crf=23)
    result = _verify(str(tmp_path / "re.mp4"))
    assert result.exit_code == 1
    assert f"watermark found (id {info['provenance_id']}" in result.stdout
    assert "manifest missing" in result.stdout


def test_verify_jpeg_without_manifest(tmp_path):
    from PIL import Image

    from veriframe.provenance.watermark import embed_frames

    frame = embed_frames(natural_video(1, 256, 256, seed=5), 0x0123456789ABCDEF)[0]
    Image.fromarray(frame).save(tmp_path / "still.jpg", quality=75)
    result = _verify(str(tmp_path / "still.jpg"), "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)[0]
    assert report["media_type"] == "image/jpeg" and report["watermark"]["id"] == "0123456789abcdef"
    assert report["c2pa"]["present"] is False and report["reasons"] == ["manifest missing"]


def test_verify_unreadable_inputs_exit_2(tmp_path, marked):
    out, _ = marked
    (tmp_path / "notes.txt").write_text("not a video")
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes((out / "in.mp4").read_bytes()[:200])
    for path, message in [(tmp_path / "notes.txt", "not an MP4, PNG or JPEG"),
                          (tmp_path / "missing.png", "cannot read"), (truncated, "video")]:
        result = _verify(str(path))
        assert result.exit_code == 2, result.output
        assert message in result.stderr
    # One unreadable file among good ones still exits 2 (the worst outcome wins).
    assert _verify(str(out / "in.mp4"), str(tmp_path / "notes.txt")).exit_code == 2
    # --json: an unreadable file's entry has every field a readable file's has, plus `error`.
    result = _verify(str(out / "in.mp4"), str(tmp_path / "notes.txt"), "--json")
    assert result.exit_code == 2
    good, bad = json.loads(result.stdout)
    assert set(bad) == set(good) | {"error"} and set(bad["watermark"]) == set(good["watermark"])
    assert set(bad["c2pa"]) == set(good["c2pa"])
    assert bad["verdict"] == "error" and "not an MP4, PNG or JPEG" in bad["error"]
    assert bad["watermark"]["found"] is False and bad["watermark"]["id"] is None
    assert bad["watermark"]["confidence"] == 0.0
    assert (bad["c2pa"]["present"], bad["c2pa"]["valid"], bad["c2pa"]["trusted"]) == (False, False, False)
    assert bad["c2pa"]["errors"] == [bad["error"]] and bad["consistent"] is None and bad["audit"] is None


def test_verify_usage_errors_exit_2(marked):
    out, _ = marked
    assert _verify().exit_code == 2
    result = _verify(str(out / "out.mp4"), "--server", "localhost:50051", env={"VERIFRAME_API_KEY": ""})
    assert result.exit_code == 2 and "needs an API key" in result.stderr
    result = _verify(str(out / "out.mp4"), "--trust-anchor", str(out / "in.mp4"))
    assert result.exit_code == 2 and "not a PEM certificate" in result.stderr


def test_keys_init_cli(tmp_path):
    result = runner.invoke(veriframe_app, ["keys", "init", str(tmp_path / "k")])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE((tmp_path / "k" / "signer-key.pem").stat().st_mode) == 0o600
    assert (tmp_path / "k" / "ledger-pub.pem").is_file()
    again = runner.invoke(veriframe_app, ["keys", "init", str(tmp_path / "k")])
    assert again.exit_code == 2 and "refusing to overwrite" in again.stderr


def test_mark_rejects_bad_input(tmp_path, dev_keys_dir):
    (tmp_path / "x.mp4").write_text("nope")
    result = runner.invoke(veriframe_app, ["provenance", "mark", str(tmp_path / "x.mp4"),
                                           str(tmp_path / "y.mp4"), "--keys", str(dev_keys_dir)])
    assert result.exit_code == 2 and "x.mp4" in result.stderr
    assert not (tmp_path / "y.mp4").exists()


def test_mark_with_production_cert_and_key_paths(tmp_path, dev_keys_dir):
    media.encode_mp4(natural_video(3, 256, 256, seed=8), 8, tmp_path / "in.mp4")
    args = ["provenance", "mark", str(tmp_path / "in.mp4"), str(tmp_path / "out.mp4"),
            "--cert", str(dev_keys_dir / "signer-chain.pem"), "--key", str(dev_keys_dir / "signer-key.pem")]
    result = runner.invoke(veriframe_app, args)
    assert result.exit_code == 0, result.output
    pid = result.stdout.strip()
    check = _verify(str(tmp_path / "out.mp4"), "--trust-anchor", str(dev_keys_dir / "root-ca.pem"), "--json")
    assert check.exit_code == 0 and json.loads(check.stdout)[0]["watermark"]["id"] == pid
    both = runner.invoke(veriframe_app, [*args, "--keys", str(dev_keys_dir)])
    assert both.exit_code == 2 and "either --keys" in both.stderr


def test_verify_help_is_fast_and_light():
    # `veriframe-verify --help` must not import torch, diffusers, imwatermark or c2pa (they load lazily,
    # when a file is checked). Run the real --help and trace every module it imports.
    code = "import sys; from veriframe.service.cli.verify import app; sys.argv[0] = 'veriframe-verify'; app()"
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code, "--help"],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Usage: veriframe-verify" in result.stdout and "--trust-anchor" in result.stdout
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0] for line in result.stderr.splitlines()
                if line.startswith("import time:")}
    assert "typer" in imported  # the trace works
    heavy = {"torch", "diffusers", "imwatermark", "c2pa", "transformers", "sqlalchemy", "cv2"} & imported
    assert not heavy, f"--help imported {sorted(heavy)}"
