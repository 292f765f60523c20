"""Peak memory and time of `veriframe-verify` on a signed MP4 with a top-level `free` box appended.

Each size runs twice, side by side, in fresh processes: the shipped verifier (streams the file) and a
baseline that first does what `verify_file` did before (read the whole file, hand c2pa-rs a BytesIO
of it), then runs the same verifier. Files are
sparse, so a 1.5 GB box costs little disk. Peak RSS is the process's own VmHWM, written at exit
(``ru_maxrss`` from ``wait4`` would include the forking parent's pages).

    .venv/bin/python bench/bench_verify_memory.py [--sizes-mb 0,100,1500]
"""

from __future__ import annotations

import argparse
import os
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PEAK = """
import atexit, os
def _peak():
    line = next(x for x in open("/proc/self/status") if x.startswith("VmHWM"))
    open(os.environ["PEAK_RSS_FILE"], "w").write(line.split()[1])
atexit.register(_peak)
"""
SHIPPED = PEAK + "from veriframe.service.cli.verify import app; app()"
BASELINE = PEAK + """
import io, sys, c2pa
data = open(sys.argv[-1], "rb").read()
c2pa.Reader("video/mp4", io.BytesIO(data)).get_validation_state()
""" + SHIPPED


def _measure(code: str, *args: str, peak_file: Path) -> tuple[float, float, int]:
    """(peak RSS MB, seconds, exit code) of ``python -c code args``."""
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True,
                            env={**os.environ, "PEAK_RSS_FILE": str(peak_file)})
    return int(peak_file.read_text()) / 1024, time.perf_counter() - start, result.returncode


def _signed(directory: Path) -> Path:
    from veriframe.provenance import keys
    from veriframe.provenance.manifest import ManifestInfo
    from veriframe.provenance.mark import mark_video
    from veriframe.provenance.synthetic import natural_video

    keys.init_dev_keys(directory / "keys")
    info = ManifestInfo(provenance_id=0x5EED, model_name="bench", model_version="1", audit_ref="bench")
    mark_video(natural_video(9, 256, 256, seed=1), 8, directory / "signed.mp4", info,
               keys.load_keys_dir(directory / "keys"))
    return directory / "signed.mp4"


def _with_free_box(signed: Path, target: Path, size: int) -> None:
    with open(target, "wb") as out:
        out.write(signed.read_bytes())
        if size:
            out.write(struct.pack(">I4sQ", 1, b"free", size + 16))
            out.seek(size - 1, os.SEEK_CUR)
            out.write(b"\x00")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", default="0,100,1500", help="free-box sizes in MB, comma-separated")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        signed = _signed(directory)
        anchor = str(directory / "keys" / "root-ca.pem")
        print("| free box | shipped: peak RSS, s, exit | baseline (whole file): peak RSS, s | RSS ratio |")
        print("|---|---|---|---|")
        for megabytes in (int(x) for x in options.sizes_mb.split(",")):
            target = directory / f"free-{megabytes}.mp4"
            _with_free_box(signed, target, megabytes * 1_000_000)
            peak = directory / "peak"
            rss, seconds, code = _measure(SHIPPED, "--trust-anchor", anchor, str(target), peak_file=peak)
            base_rss, base_seconds, _ = _measure(BASELINE, "--trust-anchor", anchor, str(target),
                                                 peak_file=peak)
            print(f"| {megabytes} MB | {rss:.0f} MB, {seconds:.2f} s, {code} | {base_rss:.0f} MB, "
                  f"{base_seconds:.2f} s | {base_rss / rss:.1f}x |")
            target.unlink()


if __name__ == "__main__":
    main()
