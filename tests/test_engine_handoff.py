"""The GPU never waits: two tiny-model jobs, post-processing (watermark, encode, sign) overlapping the
next generation, on a recorded timeline; progress writes batched off the step loop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from veriframe.service.engine import Engine, GenerationParams
from veriframe.service.engine.handoff import PostProcessor, ProgressBatcher, Timeline

# Timing assertions: run alone, not beside another test process (`make test`).
pytestmark = pytest.mark.serial

RUN = dict(prompt="a small boat on a calm lake", width=256, height=256, num_frames=9, num_inference_steps=3)


@pytest.mark.timeout(600)
def test_next_generation_starts_while_the_last_video_is_being_marked(tiny_model_dir, dev_keys_dir, tmp_path):
    from veriframe.provenance.keys import load_keys_dir
    from veriframe.provenance.manifest import ManifestInfo
    from veriframe.provenance.mark import mark_video
    from veriframe.provenance.verify import verify_file

    engine = Engine.load(str(tiny_model_dir))
    keys = load_keys_dir(dev_keys_dir)
    timeline = Timeline()
    generation_thread = threading.get_ident()
    marked: dict[str, Path] = {}
    writes: list[tuple[str, int, int, int]] = []

    def finish(item: tuple[str, object]) -> None:
        job, video = item
        info = ManifestInfo(
            provenance_id=int(job[-1]) + 1000,
            model_name=video.model.name,
            model_version=video.model.version,
            audit_ref=f"veriframe:job:{job}",
            params=video.params,
        )
        out = tmp_path / f"{job}.mp4"
        mark_video(video.frames, video.fps, out, info, keys, frames_dir=tmp_path / f"{job}-frames")
        marked[job] = out

    progress = ProgressBatcher(
        lambda job, step, total: writes.append((job, step, total, threading.get_ident())), interval=0.05
    )
    post = PostProcessor(finish, depth=1, timeline=timeline)
    for job, seed in (("job-1", 1), ("job-2", 2)):
        with timeline.span(job, "generate"):
            video = engine.generate(
                GenerationParams(**RUN, seed=seed),
                on_step=lambda done, total, j=job: progress.update(j, done, total),
            )
        progress.done(job)
        post.submit(job, (job, video))  # returns at once: the queue has room
    post.drain()
    post.close()
    progress.close()

    # Both videos were watermarked, encoded, signed, with signed PNG frames.
    for job in ("job-1", "job-2"):
        report = verify_file(marked[job], trust_anchors=[(dev_keys_dir / "root-ca.pem").read_bytes()])
        assert report.c2pa.valid and report.c2pa.trusted and report.watermark.found, (job, report)
        assert len(list((tmp_path / f"{job}-frames").glob("*.png"))) == 9

    gen1, gen2 = timeline.of("generate")
    post1, post2 = timeline.of("post")
    assert (gen1.job, gen2.job, post1.job, post2.job) == ("job-1", "job-2", "job-1", "job-2")
    # job-1's marking ran while job-2 was generating: the generation thread did not wait for it
    assert post1.start >= gen1.end and post1.start < gen2.end
    assert ("job-1", "job-2") in {(a, b) for a, b, _ in timeline.overlaps("post", "generate")}
    idle = timeline.idle_gaps("generate")[0]
    marking = post1.end - post1.start
    print(
        f"\ntimeline: {timeline.to_dict()}\nidle gap between generations {idle * 1000:.1f} ms; "
        f"marking job-1 took {marking * 1000:.0f} ms (the gap a serial worker would have)"
    )
    assert idle < marking / 2

    # Progress: never written from the generation thread; the last step of each job always written.
    assert writes and all(thread != generation_thread for *_, thread in writes)
    assert len(writes) <= 2 * RUN["num_inference_steps"]
    assert [w for w in writes if w[0] == "job-1"][-1][1:3] == (3, 3)
    assert [w for w in writes if w[0] == "job-2"][-1][1:3] == (3, 3)


def test_bounded_queue_applies_back_pressure():
    release = threading.Event()
    post = PostProcessor(lambda item: release.wait(5), depth=1)
    post.submit("a", 1)  # taken by the thread, which blocks in the handler
    time.sleep(0.2)
    post.submit("b", 2)  # fills the queue
    import queue

    with pytest.raises(queue.Full):  # a third video would wait for room
        post.submit("c", 3, timeout=0.2)
    release.set()
    post.drain()
    post.close()
