"""What the release check costs: the verifier's own detection on the encoded video (what
`provenance.mark.mark_video` runs since 2026-12-03) against the check it replaced (8 frames, v2 only),
side by side on the same encoded videos in this run, plus the whole `mark_video` for scale.

    python bench/bench_mark_readback.py [--frames 49] [--width 720] [--height 480] [--runs 3]

The old check read 8 evenly spaced frames; the verifier reads up to 64 (every frame of a 49-frame clip),
and on noise-like pictures a mark could read on the 8 and not on all of them (tests/test_watermark.py,
`test_released_tiny_model_videos_verify`).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from veriframe.provenance import media, watermark_v2
from veriframe.provenance.ids import new_provenance_id
from veriframe.provenance.keys import init_dev_keys, load_keys_dir
from veriframe.provenance.manifest import ManifestInfo
from veriframe.provenance.mark import mark_video
from veriframe.provenance.synthetic import natural_video
from veriframe.provenance.watermark import check_frames, embed_frames, readable_after_encoding


def old_check(mp4: Path, pid: int) -> bool:
    """The replaced release check: 8 frames through the v2 detector only."""
    frames, _, _ = media.sample_frames(mp4, 8)
    reading = watermark_v2.detect(check_frames(frames))
    return reading is not None and reading.provenance_id == pid


def timed(fn, *args) -> tuple[float, object]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=49)
    parser.add_argument("--width", type=int, default=720)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        init_dev_keys(work / "keys")
        keys = load_keys_dir(work / "keys")
        old, new, whole = [], [], []
        for run in range(args.runs):
            pid = new_provenance_id()
            frames = natural_video(args.frames, args.height, args.width, seed=run)
            mp4 = work / f"v{run}.mp4"
            media.encode_mp4(embed_frames(frames, pid), 8, mp4)
            # Alternate the order so neither check always gets the warm file cache.
            pair = [("old", old_check), ("new", readable_after_encoding)]
            for name, check in pair if run % 2 == 0 else pair[::-1]:
                seconds, ok = timed(check, mp4, pid)
                (old if name == "old" else new).append(seconds)
                print(f"run {run} {name} check: {seconds:.3f} s, read back: {ok}", flush=True)
            info = ManifestInfo(provenance_id=pid, model_name="bench", model_version="", audit_ref="",
                                params={})
            seconds, result = timed(mark_video, frames, 8, work / f"m{run}.mp4", info, keys)
            whole.append(seconds)
            stages = {k: round(v, 3) for k, v in result.timings.items()}
            print(f"run {run} mark_video: {seconds:.2f} s {stages}")
    m_old, m_new, m_whole = (statistics.median(x) for x in (old, new, whole))
    print(f"\n{args.frames} frames {args.width}x{args.height}, median of {args.runs}:")
    print(f"  release check, old (8 frames, v2):        {m_old:.3f} s")
    print(f"  release check, new (verifier's detection): {m_new:.3f} s  ({m_new / m_old:.2f}x the old)")
    print(f"  whole mark_video (embed, encode, check, sign): {m_whole:.2f} s "
          f"(the new check is {m_new / m_whole:.0%} of it)")


if __name__ == "__main__":
    main()
