"""A hostile-file corpus for `veriframe-verify`: hundreds of mutated MP4 and PNG files, generated here.

Bit flips in and out of the manifest, truncations, appended boxes and chunks, spliced manifests,
re-signing with a foreign CA, wrong formats. The real CLI runs in a subprocess over many files at a
time (a multi-file run must go on past every bad file) and must: print no traceback, give every file
its own JSON entry, never say "verified" of a mutated file, give each file an exit code its class
allows (0 verified, 1 not verified, 2 unreadable), exit with the worst of them, and stay in bounded
memory (the subprocess's peak RSS, its own ``VmHWM``: ``ru_maxrss`` from ``wait4`` would count the
forking test process too, since Linux carries the pre-exec high-water mark over).
"""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from veriframe.provenance import keys
from veriframe.provenance.layout import manifest_part, mp4_layout, png_layout
from veriframe.provenance.manifest import ManifestInfo
from veriframe.provenance.mark import mark_video
from veriframe.provenance.signing import sign_mp4
from veriframe.provenance.synthetic import natural_video

CODES = {"verified": 0, "not_verified": 1, "error": 2}
#: Peak RSS of one verifier process over a batch of files (it imports numpy, PyAV, c2pa: ~100 MB).
MAX_RSS_MB = 400


@dataclass(frozen=True)
class Case:
    path: Path
    kind: str
    allowed: frozenset[int]  # exit codes this file may get


#: Runs the CLI and, at exit, writes its own peak RSS (VmHWM, kB) to $PEAK_RSS_FILE.
_CLI = ("import atexit, os\n"
        "def peak():\n"
        "    line = next(x for x in open('/proc/self/status') if x.startswith('VmHWM'))\n"
        "    open(os.environ['PEAK_RSS_FILE'], 'w').write(line.split()[1])\n"
        "atexit.register(peak)\n"
        "from veriframe.service.cli.verify import app\n"
        "app()\n")


def _run(paths: list[Path], anchor: Path) -> tuple[int, str, str, float]:
    """Run veriframe-verify --json over ``paths``; (exit code, stdout, stderr, peak RSS in MB)."""
    args = [sys.executable, "-c", _CLI, "--json", "--trust-anchor", str(anchor), *map(str, paths)]
    scratch = paths[0].parent
    env = {**os.environ, "VERIFRAME_TRUST_ANCHORS": "", "PEAK_RSS_FILE": str(scratch / ".peak")}
    result = subprocess.run(args, capture_output=True, text=True, env=env, timeout=600)
    return result.returncode, result.stdout, result.stderr, int((scratch / ".peak").read_text()) / 1024


def _flip(data: bytes, position: int, bit: int) -> bytes:
    mutated = bytearray(data)
    mutated[position] ^= 1 << bit
    return bytes(mutated)


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", 8 + len(payload), kind) + payload


def _chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I4s", len(payload), kind) + payload + struct.pack(">I", zlib.crc32(kind + payload))


@pytest.fixture(scope="module")
def originals(dev_keys_dir: Path, other_keys_dir: Path, tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("originals")
    signing = keys.load_keys_dir(dev_keys_dir)

    def info(pid: int) -> ManifestInfo:
        return ManifestInfo(provenance_id=pid, model_name="tiny", model_version="1", audit_ref=f"a:{pid}")

    mark_video(natural_video(3, 256, 256, seed=11), 8, out / "base.mp4", info(0x1111), signing,
               frames_dir=out / "frames")
    mark_video(natural_video(3, 256, 256, seed=12), 8, out / "other.mp4", info(0x2222), signing,
               frames_dir=out / "other-frames")
    # The base video's pixels (same watermark id) signed by a foreign CA, claiming the same id.
    from veriframe.provenance.watermark import embed_frames

    unsigned = out / "unsigned.mp4"
    from veriframe.provenance import media

    media.encode_mp4(embed_frames(natural_video(3, 256, 256, seed=11), 0x1111), 8, unsigned)
    sign_mp4(unsigned, out / "foreign.mp4", info(0x1111), keys.load_keys_dir(other_keys_dir))
    sign_mp4(out / "base.mp4", out / "foreign-over.mp4", info(0x1111), keys.load_keys_dir(other_keys_dir))
    return {"mp4": out / "base.mp4", "other_mp4": out / "other.mp4", "png": out / "frames" / "frame_0001.png",
            "other_png": out / "other-frames" / "frame_0001.png", "foreign": out / "foreign.mp4",
            "foreign_over": out / "foreign-over.mp4", "unsigned": unsigned}


def _manifest_range(path: Path) -> tuple[int, int]:
    data_len = path.stat().st_size
    with open(path, "rb") as stream:
        if path.suffix == ".png":
            part = manifest_part(png_layout(stream, data_len), "image/png")
        else:
            part = manifest_part(mp4_layout(stream, data_len), "video/mp4")
    assert part is not None
    return part.offset, part.offset + part.size


def _mp4_cases(src: dict[str, Path], out: Path, rng: random.Random) -> list[Case]:
    data, other = src["mp4"].read_bytes(), src["other_mp4"].read_bytes()
    lo, hi = _manifest_range(src["mp4"])
    other_lo, other_hi = _manifest_range(src["other_mp4"])
    cases: list[Case] = []

    def add(name: str, content: bytes, kind: str, allowed: set[int]) -> None:
        path = out / f"{len(cases):03d}-{name}.mp4"
        path.write_bytes(content)
        cases.append(Case(path, kind, frozenset(allowed)))

    for i in range(70):  # inside the manifest box (header, JUMBF structure, claim, signature, padding)
        add(f"flip-in-manifest-{i}", _flip(data, rng.randrange(lo, hi), rng.randrange(8)), "flip-in", {1})
    ftyp_end = struct.unpack(">I", data[:4])[0]
    for i in range(40):  # moov and mdat: covered by the hash (ftyp is excluded by design: not flipped)
        position = rng.choice([rng.randrange(hi, len(data)), rng.randrange(ftyp_end, lo)]) if lo > ftyp_end \
            else rng.randrange(hi, len(data))
        add(f"flip-out-{i}", _flip(data, position, rng.randrange(8)), "flip-out", {1, 2})
    for cut in sorted(rng.sample(range(1, len(data)), 20)):
        add(f"truncated-{cut}", data[:cut], "truncation", {1, 2})
    appended = {
        "free-other-mp4": _box(b"free", other), "skip-other-mp4": _box(b"skip", other),
        "free-text": _box(b"free", b"hidden message " * 20), "mfra": _box(b"mfra", b"\x01" * 64),
        "second-manifest": data[lo:hi], "raw-other-mp4": other, "mdat": _box(b"mdat", b"\x00" * 512),
        "trailing-bytes": b"\x00\x01\x02\x03\x04", "zero-size-free": struct.pack(">I4s", 0, b"free") + other,
        "large-size-free": struct.pack(">I4sQ", 1, b"free", 16 + 4096) + bytes(4096),
        "claims-past-end": struct.pack(">I4s", 1 << 20, b"free") + b"x" * 100,
        "uuid-other": _box(b"uuid", os.urandom(16) + b"payload" * 10),
    }
    for name, tail in appended.items():
        add(f"appended-{name}", data + tail, "appended", {1})
    # Padding inside the signature filled with data; a free box between ftyp and the manifest.
    add("ftyp-then-free", data[:ftyp_end] + _box(b"free", b"x" * 300) + data[ftyp_end:], "inserted", {1})
    add("big-ftyp", _box(b"ftyp", data[8:ftyp_end] + b"isom" * 200) + data[ftyp_end:], "inserted", {1})
    # Spliced manifests: the other video's manifest in place of ours, before ours, after ours. Moving
    # the boxes after them shifts mdat away from moov's chunk offsets, so the pixels may be lost too
    # (then, with no manifest c2pa-rs accepts either, the file is unreadable: 2).
    add("spliced-replace", data[:lo] + other[other_lo:other_hi] + data[hi:], "spliced", {1, 2})
    add("spliced-before", data[:lo] + other[other_lo:other_hi] + data[lo:], "spliced", {1, 2})
    add("spliced-after", data[:hi] + other[other_lo:other_hi] + data[hi:], "spliced", {1, 2})
    add("manifest-removed", data[:lo] + data[hi:], "spliced", {1, 2})
    add("foreign-ca", src["foreign"].read_bytes(), "foreign", {1})
    add("foreign-ca-over-signed", src["foreign_over"].read_bytes(), "foreign", {1})
    return cases


def _png_cases(src: dict[str, Path], out: Path, rng: random.Random) -> list[Case]:
    data, other = src["png"].read_bytes(), src["other_png"].read_bytes()
    lo, hi = _manifest_range(src["png"])
    other_lo, other_hi = _manifest_range(src["other_png"])
    iend = data.rfind(b"IEND") - 4
    cases: list[Case] = []

    def add(name: str, content: bytes, kind: str, allowed: set[int]) -> None:
        path = out / f"{len(cases):03d}-{name}.png"
        path.write_bytes(content)
        cases.append(Case(path, kind, frozenset(allowed)))

    for i in range(30):
        add(f"flip-in-manifest-{i}", _flip(data, rng.randrange(lo, hi), rng.randrange(8)), "flip-in", {1, 2})
    for i in range(20):
        position = rng.randrange(hi + 8, iend)
        add(f"flip-pixels-{i}", _flip(data, position, rng.randrange(8)), "flip-out", {1, 2})
    for cut in sorted(rng.sample(range(1, len(data)), 12)):
        add(f"truncated-{cut}", data[:cut], "truncation", {1, 2})
    add("after-iend", data + b"hidden after IEND" * 10, "appended", {1})
    add("text-chunk", data[:iend] + _chunk(b"tEXt", b"Comment\x00hidden") + data[iend:], "appended", {1})
    add("second-manifest", data[:iend] + data[lo:hi] + data[iend:], "appended", {1})
    add("spliced-replace", data[:lo] + other[other_lo:other_hi] + data[hi:], "spliced", {1})
    add("manifest-removed", data[:lo] + data[hi:], "spliced", {1})
    return cases


def _wrong_format_cases(src: dict[str, Path], out: Path) -> list[Case]:
    contents = {
        "empty.mp4": b"", "text.mp4": b"not a video at all\n", "random.png": random.Random(3).randbytes(4096),
        "gif.png": b"GIF89a" + bytes(100), "png-signature-only.png": b"\x89PNG\r\n\x1a\n",
        "ftyp-only.mp4": src["mp4"].read_bytes()[:32], "jpeg-junk.jpg": b"\xff\xd8\xff\xe0" + bytes(300),
        "html.mp4": b"<html><body>hi</body></html>", "webp.png": b"RIFF\x10\x00\x00\x00WEBPVP8 " + bytes(8),
    }
    cases = []
    for name, content in contents.items():
        (out / f"wrong-{name}").write_bytes(content)
        cases.append(Case(out / f"wrong-{name}", "wrong-format", frozenset({2})))
    (out / "wrong-directory.mp4").mkdir()
    cases.append(Case(out / "wrong-directory.mp4", "wrong-format", frozenset({2})))
    return cases


def test_hostile_corpus(originals, dev_keys_dir, tmp_path):
    rng = random.Random(20261201)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    cases = (_mp4_cases(originals, corpus, rng) + _png_cases(originals, corpus, rng)
             + _wrong_format_cases(originals, corpus))
    mutated = len(cases)
    assert mutated >= 200
    controls = [Case(originals["mp4"], "control", frozenset({0})), Case(originals["png"], "control",
                                                                       frozenset({0}))]
    rng.shuffle(cases)
    batches = [cases[i::4] for i in range(4)]
    batches[0] = controls[:1] + batches[0]
    batches[1] = batches[1] + controls[1:]
    anchor = dev_keys_dir / keys.ROOT_CA
    wrong, seen = [], 0
    for batch in batches:
        code, stdout, stderr, rss_mb = _run([c.path for c in batch], anchor)
        assert "Traceback" not in stderr and "internal error" not in stderr, stderr[-3000:]
        entries = json.loads(stdout)
        assert [e["file"] for e in entries] == [str(c.path) for c in batch]  # one entry each, in order
        codes = [CODES[e["verdict"]] for e in entries]
        assert code == max(codes), (code, codes)
        assert rss_mb < MAX_RSS_MB, f"peak RSS {rss_mb:.0f} MB over {len(batch)} files"
        for case, entry, entry_code in zip(batch, entries, codes, strict=True):
            seen += 1
            if entry_code not in case.allowed:
                wrong.append((case.path.name, case.kind, entry["verdict"], entry["reasons"][:2]))
            if entry["verdict"] == "error":
                assert entry["error"] and entry["schema"] == "veriframe.verify/1"
    assert seen == mutated + 2
    assert not wrong, f"{len(wrong)} wrong verdicts of {mutated}: {wrong[:10]}"


def test_appended_free_box_is_reported_not_verified(originals, dev_keys_dir, tmp_path):
    """The red team's case: a whole other MP4 appended as a top-level free box must not verify."""
    target = tmp_path / "appended.mp4"
    target.write_bytes(originals["mp4"].read_bytes() + _box(b"free", originals["other_mp4"].read_bytes()))
    code, stdout, _, _ = _run([originals["mp4"], target], dev_keys_dir / keys.ROOT_CA)
    good, bad = json.loads(stdout)
    assert good["verdict"] == "verified" and good["c2pa"]["uncovered"] == []
    assert code == 1 and bad["verdict"] == "not_verified" and bad["c2pa"]["valid"]  # c2pa alone says valid
    (region,) = bad["c2pa"]["uncovered"]
    assert region == {"where": "top-level 'free' box", "offset": originals["mp4"].stat().st_size,
                      "size": 8 + originals["other_mp4"].stat().st_size}
    assert any("not covered by the signature" in r for r in bad["reasons"])


def test_huge_free_box_costs_bounded_memory(originals, dev_keys_dir, tmp_path):
    """A 1.5 GB free box (a sparse file: little disk) is reported, with memory far below its size."""
    target = tmp_path / "huge.mp4"
    size = 1_500_000_000
    with open(target, "wb") as out:
        out.write(originals["mp4"].read_bytes())
        out.write(struct.pack(">I4sQ", 1, b"free", size + 16))
        out.seek(size - 1, os.SEEK_CUR)
        out.write(b"\x01")
    code, stdout, stderr, rss_mb = _run([target], dev_keys_dir / keys.ROOT_CA)
    (entry,) = json.loads(stdout)
    assert code == 1 and entry["verdict"] == "not_verified", stderr
    assert entry["c2pa"]["uncovered"][0]["size"] == size + 16
    assert rss_mb < 300, f"peak RSS {rss_mb:.0f} MB for a {size / 1e9:.1f} GB file"


def test_oversized_png_chunk_is_refused_before_reading(originals, dev_keys_dir, tmp_path):
    target = tmp_path / "chunky.png"
    data = originals["png"].read_bytes()
    iend = data.rfind(b"IEND") - 4
    with open(target, "wb") as out:  # a 100 MB ancillary chunk, sparse on disk
        out.write(data[:iend] + struct.pack(">I4s", 100 << 20, b"zzZz"))
        out.seek(100 << 20, os.SEEK_CUR)
        out.write(b"\x00" * 4 + data[iend:])
    code, stdout, _, rss_mb = _run([target, originals["png"]], dev_keys_dir / keys.ROOT_CA)
    bad, good = json.loads(stdout)
    assert code == 2 and bad["verdict"] == "error" and "larger than the 64 MiB limit" in bad["error"]
    assert good["verdict"] == "verified"  # the run went on
    assert rss_mb < 300
