"""Keep the GPU busy: post-processing off the generation thread, progress writes off the step loop.

``PostProcessor``: the generation thread hands each finished video to a bounded queue and goes
straight back to the next job; one (or more) post-processing threads screen, watermark, encode,
sign and record it. The bound is back-pressure: when post-processing falls ``depth`` videos behind,
``submit`` blocks, so frames never pile up in memory. Every stage is timed on a shared clock
(``Timeline``) so tests and benchmarks can prove the overlap and measure the GPU's idle gap.

``ProgressBatcher``: ``on_step`` only stores the latest (step, total) per job; a background thread
writes at most one update per job per ``interval`` seconds, so a database round trip never sits
between two denoising steps.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass
class Span:
    job: str
    stage: str  # "generate", "post", ...
    start: float
    end: float


@dataclass
class Timeline:
    """Stage spans on one monotonic clock (thread-safe)."""

    spans: list[Span] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @contextmanager
    def span(self, job: str, stage: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        finally:
            with self._lock:
                self.spans.append(Span(job, stage, start, time.monotonic()))

    def of(self, stage: str) -> list[Span]:
        with self._lock:
            return sorted((s for s in self.spans if s.stage == stage), key=lambda s: s.start)

    def idle_gaps(self, stage: str = "generate") -> list[float]:
        """Seconds between one ``stage`` span's end and the next one's start (the GPU's idle time)."""
        runs = self.of(stage)
        return [max(0.0, b.start - a.end) for a, b in itertools.pairwise(runs)]

    def overlaps(self, first: str, second: str) -> list[tuple[str, str, float]]:
        """(job of a ``first`` span, job of a ``second`` span, seconds they ran at the same time)."""
        out = []
        for a in self.of(first):
            for b in self.of(second):
                both = min(a.end, b.end) - max(a.start, b.start)
                if both > 0 and a.job != b.job:
                    out.append((a.job, b.job, both))
        return out

    def to_dict(self) -> list[dict[str, Any]]:
        origin = min((s.start for s in self.spans), default=0.0)
        return [
            {
                "job": s.job,
                "stage": s.stage,
                "start": round(s.start - origin, 4),
                "end": round(s.end - origin, 4),
            }
            for s in sorted(self.spans, key=lambda s: s.start)
        ]


class PostProcessor:
    """A bounded queue of finished videos and the thread(s) that finish them.

    ``handler(item)`` runs on a post-processing thread; its exceptions are the handler's to record
    (they are logged here and never stop the thread). ``close`` waits for the queue to drain.
    """

    def __init__(
        self,
        handler: Callable[[Any], None],
        *,
        depth: int = 1,
        threads: int = 1,
        timeline: Timeline | None = None,
        name: str = "post",
    ) -> None:
        if depth < 1 or threads < 1:
            raise ValueError("depth and threads must be at least 1")
        self._handler = handler
        self._queue: queue.Queue[tuple[str, Any] | None] = queue.Queue(maxsize=depth)
        self.timeline = timeline
        self._threads = [
            threading.Thread(target=self._run, name=f"{name}-{i}", daemon=True) for i in range(threads)
        ]
        for thread in self._threads:
            thread.start()

    def submit(self, job: str, item: Any, timeout: float | None = None) -> None:
        """Queue ``item``; blocks while the queue is full (back-pressure). Raises queue.Full on timeout."""
        self._queue.put((job, item), timeout=timeout)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            entry = self._queue.get()
            try:
                if entry is None:
                    return
                job, item = entry
                if self.timeline is not None:
                    with self.timeline.span(job, "post"):
                        self._call(job, item)
                else:
                    self._call(job, item)
            finally:
                self._queue.task_done()

    def _call(self, job: str, item: Any) -> None:
        try:
            self._handler(item)
        except Exception:
            log.exception("post-processing of %s failed", job)

    def drain(self) -> None:
        """Wait until every queued video is finished."""
        self._queue.join()

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()


class ProgressBatcher:
    """Coalesces per-step progress: the step loop stores, a background thread writes.

    ``write(job, step, total)`` always runs on the background thread, at most once per job per
    ``interval``; a job's last value is always written (``done`` wakes the thread for it).
    """

    def __init__(self, write: Callable[[str, int, int], None], *, interval: float = 0.5) -> None:
        self._write = write
        self._interval = interval
        self._latest: dict[str, tuple[int, int]] = {}
        self._written: dict[str, tuple[int, int]] = {}
        self._finished: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)
        self._thread.start()

    def update(self, job: str, step: int, total: int) -> None:
        """Called from the step loop: a dict store, no I/O."""
        with self._lock:
            self._latest[job] = (step, total)

    def done(self, job: str) -> None:
        """``job`` will not step again: write its last value soon, then forget it."""
        with self._lock:
            self._finished.add(job)
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            with self._lock:
                pending = {j: v for j, v in self._latest.items() if self._written.get(j) != v}
                self._written.update(pending)
                for job in self._finished:
                    self._latest.pop(job, None)
                    self._written.pop(job, None)
                self._finished.clear()
                stopping = self._stop
            for job, (step, total) in pending.items():
                self._safe_write(job, step, total)
            if stopping:
                return

    def _safe_write(self, job: str, step: int, total: int) -> None:
        try:
            self._write(job, step, total)
        except Exception:  # progress is advisory: a failed write must not fail the job
            log.warning("progress write for %s failed", job, exc_info=True)

    def close(self) -> None:
        """Write what is pending, then stop the thread."""
        with self._lock:
            self._stop = True
        self._wake.set()
        self._thread.join()
