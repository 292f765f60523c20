"""The attack and quality helpers shared by the watermark benchmark and its tests (tools/video_attacks.py)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np

from tools import video_attacks

ROOT = Path(__file__).resolve().parents[1]
SHARED = {name for name in dir(video_attacks)
          if callable(getattr(video_attacks, name)) and not name.startswith("_")}


def _frames(h: int = 48, w: int = 72, t: int = 2) -> np.ndarray:
    return np.random.default_rng(0).integers(1, 256, (t, h, w, 3), dtype=np.uint8)


def test_geometry_helpers_place_the_picture_where_they_say():
    f = _frames()
    boxed = video_attacks.fit(f, 128, 72)  # 72x48 fitted into 128x72: 108x72, centred on black
    assert boxed.shape == (2, 72, 128, 3)
    assert not boxed[:, :, :10].any() and not boxed[:, :, 118:].any()
    assert np.array_equal(boxed[:, :, 10:118], video_attacks.resize(f, 108, 72))
    padded = video_attacks.pad_width(f, 90)
    assert padded.shape == (2, 48, 90, 3) and np.array_equal(padded[:, :, 9:81], f)
    assert not padded[:, :, :9].any() and not padded[:, :, 81:].any()
    corner = video_attacks.crop(f, 0.25, 0.9, 0.1)  # a quarter of the area, near the top-right corner
    assert corner.shape == (2, 24, 36, 3) and np.array_equal(corner, f[:, 2:26, 32:68])
    assert video_attacks.resize(f, 36, 24).shape == (2, 24, 36, 3)
    assert video_attacks.rotate(f, 0.0).shape == f.shape
    social = video_attacks.social_geometry(_frames(480, 720, 1))
    assert social.shape == (1, 640, 360, 3)


def test_quality_measures():
    f = _frames()
    assert video_attacks.psnr(f, f) > 100 and video_attacks.ssim(f, f) > 0.999
    noisy = np.clip(f.astype(int) + 4, 0, 255).astype(np.uint8)
    assert 30 < video_attacks.psnr(noisy, f) < 37 and video_attacks.ssim(noisy, f) < 1.0


def test_one_thread_encodes_are_repeatable_and_trim_odd_sizes():
    f = _frames(65, 97, 3)
    a = video_attacks.encode(f, crf=23, threads=1)
    assert a.shape == (3, 64, 96, 3)
    assert np.array_equal(a, video_attacks.encode(f, crf=23, threads=1))


def _defined_and_imported(path: Path) -> tuple[set[str], set[str]]:
    tree = ast.parse(path.read_text())
    defined = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "tools.video_attacks":
            imported |= {alias.name for alias in node.names}
        if isinstance(node, ast.ImportFrom) and node.module == "tools":
            imported |= {f"tools.{alias.name}" for alias in node.names}
    return defined, imported


def test_bench_and_tests_share_the_helpers_instead_of_copying_them():
    # The benchmark and the watermark tests used to carry their own copies, which drifted apart.
    bench_defs, bench_imports = _defined_and_imported(ROOT / "bench" / "bench_watermark.py")
    test_defs, test_imports = _defined_and_imported(ROOT / "tests" / "test_watermark.py")
    assert "tools.video_attacks" in bench_imports
    assert {"crop", "fit", "hue", "resize", "rotate", "psnr", "ssim", "stock_marked"} <= bench_imports
    assert {"fit", "pad_width", "resize", "rotate", "service_reencode", "stock_marked"} <= test_imports
    # The bench keeps one thin ``encode`` wrapper (it applies --encode-threads); nothing else is redefined.
    assert bench_defs & SHARED == {"encode"}
    assert not {name.lstrip("_") for name in test_defs} & (SHARED | {"letterbox", "pad"})
