"""`veriframe model ...` and local `veriframe generate` on the tiny model (in-process CLI runs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from veriframe.provenance.media import decode_video, write_png
from veriframe.service.cli import app

runner = CliRunner()


def test_model_build_tiny_and_info(tmp_path, tiny_model_root):
    result = runner.invoke(app, ["model", "build-tiny", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert str(tmp_path / "m" / "t2v") in result.output
    assert (tmp_path / "m" / "i2v" / "model_index.json").is_file()

    result = runner.invoke(app, ["model", "info", str(tmp_path / "m" / "i2v")])
    assert result.exit_code == 0, result.output
    assert "CogVideoX 1.0 (i2v; modes: i2v)" in result.output
    assert "720x480, 49 frames (8N+1, at most 49) at 8 fps" in result.output
    assert "at most 226 T5 tokens" in result.output

    result = runner.invoke(app, ["model", "info", "--json", str(tmp_path / "m" / "t2v")])
    described = json.loads(result.output)
    assert described["modes"] == ["t2v", "v2v"] and described["family"] == "1.0"
    assert described["components"]["transformer"] == "CogVideoXTransformer3DModel"

    result = runner.invoke(app, ["model", "info", str(tmp_path / "nothing-here")])
    assert result.exit_code == 2 and "not a model directory" in result.output


def test_generate_t2v_writes_an_mp4_and_frames(tmp_path, tiny_model_dir):
    out = tmp_path / "out.mp4"
    args = [
        "generate",
        "a boat on a lake",
        "-o",
        str(out),
        "--model",
        str(tiny_model_dir),
        "--frames",
        "9",
        "--width",
        "256",
        "--height",
        "256",
        "--fps",
        "10",
        "--seed",
        "11",
        "--frames-dir",
        str(tmp_path / "f"),
    ]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "seed 11" in result.output and "UNSIGNED and UNWATERMARKED" in result.output
    frames, fps = decode_video(out)
    assert frames.shape == (9, 256, 256, 3) and fps == 10
    assert len(list((tmp_path / "f").glob("frame_*.png"))) == 9


def test_generate_i2v_and_v2v(tmp_path, tiny_model_dir, tiny_i2v_model_dir):
    image = tmp_path / "first.png"
    write_png(np.random.default_rng(1).integers(0, 256, (256, 256, 3), dtype=np.uint8), image)
    i2v_out = tmp_path / "i2v.mp4"
    result = runner.invoke(
        app,
        [
            "generate",
            "the cat walks",
            "-o",
            str(i2v_out),
            "--model",
            str(tiny_i2v_model_dir),
            "--image",
            str(image),
            "--frames",
            "9",
            "--width",
            "256",
            "--height",
            "256",
        ],
    )
    assert result.exit_code == 0, result.output
    assert decode_video(i2v_out)[0].shape == (9, 256, 256, 3)

    v2v_out = tmp_path / "v2v.mp4"
    result = runner.invoke(
        app,
        [
            "generate",
            "at night",
            "-o",
            str(v2v_out),
            "--model",
            str(tiny_model_dir),
            "--video",
            str(i2v_out),
            "--strength",
            "0.5",
            "--width",
            "256",
            "--height",
            "256",
        ],
    )
    assert result.exit_code == 0, result.output
    assert decode_video(v2v_out)[0].shape == (9, 256, 256, 3)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "10"], "invalid num_frames: must be 8N+1"),
        (["--width", "250"], "invalid width: must be a multiple of 16"),
        (["--strength", "0.5"], "invalid strength: only used in v2v mode"),
        (["--image", "missing.png"], "missing.png: no such file"),
        (["--image", "a.png", "--video", "b.mp4"], "use either --image"),
        (["--offload", "everything"], "--offload must be none, model or sequential"),
        (["--device", "cpu", "--offload", "model"], "CPU offload only makes sense"),
    ],
)
def test_generate_usage_errors_exit_2_naming_the_field(tmp_path, tiny_model_dir, extra, message):
    result = runner.invoke(
        app, ["generate", "a dog", "-o", str(tmp_path / "x.mp4"), "--model", str(tiny_model_dir), *extra]
    )
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "x.mp4").exists()


def test_generate_rejects_an_overlong_prompt(tmp_path, tiny_model_dir):
    result = runner.invoke(
        app, ["generate", "cat " * 300, "-o", str(tmp_path / "x.mp4"), "--model", str(tiny_model_dir)]
    )
    assert result.exit_code == 2
    assert "invalid prompt: is 301 T5 tokens; the model reads at most 226" in result.output


def test_generate_with_keys_watermarks_and_signs(tmp_path, tiny_model_dir, dev_keys_dir):
    from veriframe.provenance.verify import verify_file

    out = tmp_path / "signed.mp4"
    result = runner.invoke(
        app,
        [
            "generate",
            "a red kite",
            "-o",
            str(out),
            "--model",
            str(tiny_model_dir),
            "--frames",
            "9",
            "--width",
            "256",
            "--height",
            "256",
            "--keys",
            str(dev_keys_dir),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "watermarked and signed" in result.output
    report = verify_file(out).to_json()
    assert report["c2pa"]["present"] and report["c2pa"]["valid"]
    assert report["watermark"]["found"]


def test_generate_engine_flags_reach_the_engine_and_impossible_ones_exit_2(tmp_path, tiny_model_dir):
    base = [
        "generate",
        "a boat",
        "--model",
        str(tiny_model_dir),
        "--frames",
        "9",
        "--width",
        "256",
        "--height",
        "256",
        "--steps",
        "2",
        "--seed",
        "3",
    ]
    result = runner.invoke(
        app,
        [
            *base,
            "-o",
            str(tmp_path / "a.mp4"),
            "--attention",
            "flash",
            "--fuse-qkv",
            "--vae-channels-last",
            "--compile",
            "none",
        ],
    )
    assert result.exit_code == 0, result.output
    plain = runner.invoke(app, [*base, "-o", str(tmp_path / "b.mp4")])
    assert plain.exit_code == 0, plain.output
    # exact options: the same video as the defaults
    assert np.array_equal(decode_video(tmp_path / "a.mp4")[0], decode_video(tmp_path / "b.mp4")[0])
    refused = runner.invoke(app, [*base, "-o", str(tmp_path / "c.mp4"), "--fp8"])
    assert refused.exit_code == 2 and "fp8 needs a CUDA GPU" in refused.output
    refused = runner.invoke(app, [*base, "-o", str(tmp_path / "d.mp4"), "--attention", "sage"])
    assert refused.exit_code == 2 and "sageattention" in refused.output


def test_serve_settings_carry_engine_options(tmp_path):
    from veriframe.service.settings import load_settings

    settings = load_settings(None, compile="blocks", cache="pab", warmup=["720x480x49"], fuse_qkv=True)
    options = settings.engine_options("cuda:1")
    assert (options.compile, options.cache, options.warmup, options.device) == (
        "blocks",
        "pab",
        ((720, 480, 49),),
        "cuda:1",
    )
    assert options.lossy == ["cache:pab"]
    spanning = load_settings(None, devices="cuda:0,cuda:1")
    assert spanning.engine_options(None).devices == ("cuda:0", "cuda:1")
    with pytest.raises(ValueError, match="attention must be one of"):
        load_settings(None, attention="fastest")
    with pytest.raises(ValueError, match="set workers to 1"):
        load_settings(None, devices="cuda:0,cuda:1", workers=2)
    split = load_settings(
        None, devices="cuda:0,cuda:1", parallel="sequence", sequence_parallel="ring", attention="cudnn"
    )
    assert (split.engine_options(None).parallel, split.engine_options(None).sequence_parallel) == (
        "sequence",
        "ring",
    )


def test_serve_parallel_flags_exit_2_with_the_fix(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xfuser", None)  # the xdit extra is not installed here anyway
    base = ["serve", "--database", f"sqlite:///{tmp_path / 'v.db'}", "--devices", "cpu,cpu"]
    result = runner.invoke(app, [*base, "--parallel", "xdit"])
    assert result.exit_code == 2 and "pip install 'veriframe-service[xdit]'" in result.output
    result = runner.invoke(app, [*base, "--parallel", "cfg+sequence"])
    assert result.exit_code == 2 and "at least 4" in result.output
    result = runner.invoke(app, [*base, "--parallel", "sequence", "--sequence-parallel", "ring"])
    assert result.exit_code == 2 and "log-sum-exp" in result.output
    result = runner.invoke(app, [*base[:-2], "--parallel", "sequence"])
    assert result.exit_code == 2 and "needs several devices" in result.output
