"""bench/bench_engine_gpu.py --tiny: the GPU benchmark's own code, on CPU with the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(900)
def test_bench_tiny_smoke_run_writes_json_with_finiteness(tmp_path):
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "bench_engine_gpu.py"),
        "--tiny",
        "--repeats",
        "1",
        "--configs",
        "baseline,exact,cache",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=880)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "extrapolation: total(50) = total(2) + (50 - 2) x median s/step" in done.stdout
    result = json.loads(out.read_text())
    assert result["finite"] is True and result["steps_measured"] == 2
    configs = result["configs"]
    assert set(configs) == {"baseline", "exact", "cache"}
    for entry in configs.values():
        assert entry["finite"] is True and entry["s_per_step"] > 0 and entry["peak_memory_gib"] > 0
        assert entry["total_s_extrapolated"] > entry["total_s"]
    # The plain diffusers pipeline and the exact engine compute the same video on CPU.
    assert configs["baseline"]["vs_exact"]["identical"] is True
    assert configs["cache"]["vs_exact"]["identical"] is False  # the cache skipped work: labelled lossy


def test_bench_without_cuda_says_so_and_exits_2():
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "bench_engine_gpu.py"), "--model", "5b"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "no CUDA device" in done.stderr and "--tiny" in done.stderr


@pytest.mark.timeout(900)
def test_bench_tiny_runs_the_multi_device_path(tmp_path):
    """--devices makes the benchmark add a parallel:MODE configuration (here 2 gloo ranks, Ulysses)."""
    out = tmp_path / "bench.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "bench_engine_gpu.py"),
        "--tiny",
        "--repeats",
        "1",
        "--configs",
        "exact",
        "--devices",
        "cpu,cpu",
        "--parallel",
        "sequence",
        "--out",
        str(out),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=880)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["devices"] == ["cpu", "cpu"] and result["finite"] is True
    split = result["configs"]["parallel:sequence"]
    assert split["finite"] is True and split["s_per_step"] > 0
    assert split["vs_exact"]["max_abs_diff"] <= 1  # float rounding of the split attention only
