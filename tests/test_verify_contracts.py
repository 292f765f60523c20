"""veriframe-verify contracts: damaged stores never crash a run, --manifest, trust hints and trust-list
bundles, the keyed prompt commitment (and old version-1 files)."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from veriframe.provenance import keys, media, signing, verify
from veriframe.provenance.manifest import VERIFRAME_ASSERTION, ManifestInfo, video_manifest
from veriframe.provenance.mark import mark_video
from veriframe.provenance.prompt_commitment import (
    KEY_FILE,
    PromptKey,
    PromptKeyError,
    commit_prompt,
    load_prompt_key,
    opens,
    prompt_key_for,
)
from veriframe.provenance.synthetic import natural_video
from veriframe.provenance.watermark import embed_frames
from veriframe.service.cli.verify import app

runner = CliRunner()
PROMPT = "a lighthouse at dusk"


@pytest.fixture(scope="module")
def signed(dev_keys_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("contracts") / "video.mp4"
    info = ManifestInfo(provenance_id=0x4242, model_name="m", model_version="1", audit_ref="a",
                        prompt_commitment=commit_prompt(PROMPT, prompt_key_for(dev_keys_dir)))
    mark_video(natural_video(3, 256, 256, seed=6), 8, out, info, keys.load_keys_dir(dev_keys_dir))
    return out


def _root(directory: Path) -> str:
    return str(directory / keys.ROOT_CA)


def _keyerror_file(signed: Path, tmp_path: Path) -> Path:
    """A one-bit flip in the Veriframe assertion that makes c2pa-python's get_active_manifest() raise
    KeyError('Active manifest not found in manifest store'): what crashed the verifier before."""
    import c2pa

    data = signed.read_bytes()
    start = data.find(VERIFRAME_ASSERTION.encode())
    for position in range(start, start + 400):
        for bit in (0, 5):
            mutated = bytearray(data)
            mutated[position] ^= 1 << bit
            try:
                reader = c2pa.Reader.try_create("video/mp4", io.BytesIO(bytes(mutated)))
            except c2pa.C2paError:
                continue  # refused outright: a case c2pa-python reports properly
            if reader is None:
                continue
            with reader:
                try:
                    reader.get_active_manifest()
                except KeyError:
                    path = tmp_path / "keyerror.mp4"
                    path.write_bytes(bytes(mutated))
                    return path
    pytest.fail("no flip in the assertion reproduced c2pa's KeyError")


def test_store_that_makes_c2pa_raise_keyerror_gets_its_own_result(signed, dev_keys_dir, tmp_path):
    bad = _keyerror_file(signed, tmp_path)
    report = verify.verify_file(bad, trust_anchors=[(dev_keys_dir / keys.ROOT_CA).read_bytes()])
    assert not report.verified and report.c2pa.present and not report.c2pa.valid
    assert any("manifest unreadable" in e for e in report.c2pa.errors), report.c2pa.errors
    result = runner.invoke(app, [str(signed), str(bad), str(signed), "--json", "--trust-anchor",
                                 _root(dev_keys_dir)])
    assert result.exit_code == 1, result.output
    verdicts = [entry["verdict"] for entry in json.loads(result.stdout)]
    assert verdicts == ["verified", "not_verified", "verified"]


def test_manifest_flag_prints_the_whole_store(signed, dev_keys_dir):
    result = runner.invoke(app, [str(signed), "--json", "--manifest", "--trust-anchor", _root(dev_keys_dir)])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    store = entry["manifest_store"]
    assert store["active_manifest"] == entry["c2pa"]["manifest_label"]
    active = store["manifests"][store["active_manifest"]]
    assert {a["label"] for a in active["assertions"]} >= {"c2pa.actions.v2", VERIFRAME_ASSERTION}
    assert store["validation_state"] == "Trusted"
    text = runner.invoke(app, [str(signed), "--detailed", "--trust-anchor", _root(dev_keys_dir)])
    assert text.exit_code == 0 and '"active_manifest"' in text.stdout
    plain = runner.invoke(app, [str(signed), "--json", "--trust-anchor", _root(dev_keys_dir)])
    assert "manifest_store" not in json.loads(plain.stdout)[0]


def test_untrusted_result_says_how_to_add_a_trust_anchor(signed, other_keys_dir):
    result = runner.invoke(app, [str(signed), "--trust-anchor", _root(other_keys_dir)])
    assert result.exit_code == 1
    assert "--trust-anchor" in result.stdout and "VERIFRAME_TRUST_ANCHORS" in result.stdout
    entry = json.loads(runner.invoke(app, [str(signed), "--json"]).stdout)[0]
    assert "--trust-anchor" in entry["hint"]


def test_trust_list_bundle_with_comments(signed, dev_keys_dir, other_keys_dir, tmp_path):
    """The C2PA trust list is one PEM bundle with comment lines between certificates."""
    bundle = tmp_path / "C2PA-TRUST-LIST.pem"
    bundle.write_text("# C2PA conformance trust list (test copy)\n\n# Issuer: other\n"
                      + (other_keys_dir / keys.ROOT_CA).read_text()
                      + "\n# Issuer: Veriframe development root CA\n"
                      + (dev_keys_dir / keys.ROOT_CA).read_text())
    result = runner.invoke(app, [str(signed), "--trust-anchor", str(bundle)])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "trust-list"
    folder.mkdir()
    (folder / "a.pem").write_bytes((other_keys_dir / keys.ROOT_CA).read_bytes())
    (folder / "b.crt").write_bytes((dev_keys_dir / keys.ROOT_CA).read_bytes())
    (folder / "README").write_text("ignored")
    assert runner.invoke(app, [str(signed), "--trust-anchor", str(folder)]).exit_code == 0
    only_other = tmp_path / "other.pem"
    only_other.write_text("# one anchor\n" + (other_keys_dir / keys.ROOT_CA).read_text())
    assert runner.invoke(app, [str(signed), "--trust-anchor", str(only_other)]).exit_code == 1


def test_prompt_commitment_cannot_be_confirmed_by_guessing(signed, dev_keys_dir):
    data = signed.read_bytes()
    assert hashlib.sha256(PROMPT.encode()).hexdigest().encode() not in data
    assert hashlib.sha256(PROMPT.encode()).digest() not in data
    commitment = verify.verify_file(signed).c2pa.prompt_commitment
    key = load_prompt_key(dev_keys_dir / KEY_FILE)
    assert commitment["key_id"] == key.key_id and commitment["alg"] == "hmac-sha256"
    assert opens(commitment, PROMPT, [key]) and not opens(commitment, PROMPT + " ", [key])
    with pytest.raises(PromptKeyError, match="not among the keys"):
        opens(commitment, PROMPT, [PromptKey(b"x" * 32)])  # another deployment's key proves nothing


def test_operator_proves_the_prompt_with_the_cli(signed, dev_keys_dir, tmp_path):
    (tmp_path / "right.txt").write_text(PROMPT)
    (tmp_path / "wrong.txt").write_text("a lighthouse at dawn")
    base = [str(signed), "--json", "--trust-anchor", _root(dev_keys_dir),
            "--prompt-key", str(dev_keys_dir / KEY_FILE)]
    right = runner.invoke(app, [*base, "--prompt-file", str(tmp_path / "right.txt")])
    assert right.exit_code == 0 and json.loads(right.stdout)[0]["prompt_matches"] is True
    wrong = runner.invoke(app, [*base, "--prompt-file", str(tmp_path / "wrong.txt")])
    assert wrong.exit_code == 1 and json.loads(wrong.stdout)[0]["prompt_matches"] is False
    no_key = runner.invoke(app, [str(signed), "--prompt-file", str(tmp_path / "right.txt")])
    assert no_key.exit_code == 2 and "needs --prompt-key" in no_key.stderr


def test_prompt_key_files(tmp_path):
    key = prompt_key_for(tmp_path)  # created on first use, 0600
    assert (tmp_path / KEY_FILE).stat().st_mode & 0o777 == 0o600
    assert prompt_key_for(tmp_path) == key  # and then read back
    (tmp_path / "bad.key").write_text("not hex")
    with pytest.raises(PromptKeyError, match="64 lowercase hex"):
        load_prompt_key(tmp_path / "bad.key")
    with pytest.raises(PromptKeyError, match="cannot create"):
        prompt_key_for(tmp_path / "missing-dir")


def test_version_1_file_with_plain_prompt_hash_still_verifies(dev_keys_dir, tmp_path):
    """Files signed before prompt commitments (assertion version 1, prompt_sha256) keep verifying."""
    source = tmp_path / "in.mp4"
    media.encode_mp4(embed_frames(natural_video(3, 256, 256, seed=7), 0x99), 8, source)
    definition = video_manifest(ManifestInfo(provenance_id=0x99, model_name="m", model_version="1",
                                             audit_ref="old"), title="old.mp4")
    ours = next(a for a in definition["assertions"] if a["label"] == VERIFRAME_ASSERTION)["data"]
    ours.pop("prompt_commitment")
    ours.update(version=1, prompt_sha256=hashlib.sha256(PROMPT.encode()).hexdigest())
    signing._sign(definition, "video/mp4", source, tmp_path / "old.mp4", keys.load_keys_dir(dev_keys_dir))
    result = runner.invoke(app, [str(tmp_path / "old.mp4"), "--json", "--trust-anchor", _root(dev_keys_dir)])
    assert result.exit_code == 0, result.output
    (tmp_path / "p.txt").write_text(PROMPT)
    checked = runner.invoke(app, [str(tmp_path / "old.mp4"), "--json", "--trust-anchor", _root(dev_keys_dir),
                                  "--prompt-file", str(tmp_path / "p.txt"),
                                  "--prompt-key", str(dev_keys_dir / KEY_FILE)])
    entry = json.loads(checked.stdout)[0]
    assert checked.exit_code == 1 and entry["prompt_matches"] is None
    assert "no prompt commitment" in " ".join(entry["reasons"])
