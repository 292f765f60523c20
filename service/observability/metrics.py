"""The `veriframe_*` Prometheus metrics.

Two kinds:
- event metrics (counters and histograms) that the code updates as things happen in *this* process:
  RPCs, screening decisions, finished jobs, generation and post-processing time, step time;
- state metrics read when Prometheus scrapes (`DatabaseCollector`, `GpuCollector`): jobs by state,
  queue depth and age, review queue, ledger size and checkpoint age. They come from the shared
  database, so every server reports the same values: aggregate them with `max`, not `sum`.

Event metrics are module-level objects not bound to any registry; `registry_for(...)` builds one
registry per server (several servers in one test process each serve their own /metrics).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

# Generation takes seconds (tiny model) to many minutes (5b on one GPU): buckets cover both.
_SLOW_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 2400)
_RPC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_STEP_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60)

RPCS = Counter(
    "veriframe_rpc_requests", "RPCs handled, by method and status code", ["method", "code"], registry=None
)
RPC_SECONDS = Histogram(
    "veriframe_rpc_duration_seconds",
    "RPC latency (streams: until the stream ends), by method and status code",
    ["method", "code"],
    buckets=_RPC_BUCKETS,
    registry=None,
)
SCREENING = Counter(
    "veriframe_screening_decisions",
    "Prompt screening decisions, by decision (allow/review/block) and category ('none' when none fired)",
    ["decision", "category"],
    registry=None,
)
JOBS_FINISHED = Counter(
    "veriframe_jobs_finished",
    "Jobs that reached an outcome in this process (succeeded/failed/cancelled/rejected/requeued)",
    ["outcome"],
    registry=None,
)
GENERATION_SECONDS = Histogram(
    "veriframe_generation_seconds",
    "Time in the diffusion pipeline per job (denoising and VAE decode), by mode",
    ["mode"],
    buckets=_SLOW_BUCKETS,
    registry=None,
)
POSTPROCESS_SECONDS = Histogram(
    "veriframe_postprocess_seconds",
    "Time to watermark, encode and sign a job's output",
    buckets=_SLOW_BUCKETS,
    registry=None,
)
STEP_SECONDS = Histogram(
    "veriframe_denoising_step_seconds",
    "Time per denoising step (averaged over the steps between two progress reports)",
    buckets=_STEP_BUCKETS,
    registry=None,
)
EVENT_METRICS = (
    RPCS,
    RPC_SECONDS,
    SCREENING,
    JOBS_FINISHED,
    GENERATION_SECONDS,
    POSTPROCESS_SECONDS,
    STEP_SECONDS,
)


def record_screening(decision: str, categories: Iterable[str]) -> None:
    for category in list(categories) or ["none"]:
        SCREENING.labels(decision=decision, category=category).inc()


class StepTimer:
    """Feeds STEP_SECONDS from `on_step(step, total)` progress callbacks (which may skip steps)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._last: tuple[int, float] | None = None

    def __call__(self, step: int) -> None:
        now = self._clock()
        if self._last is not None and step > self._last[0]:
            per_step = (now - self._last[1]) / (step - self._last[0])
            for _ in range(step - self._last[0]):
                STEP_SECONDS.observe(per_step)
        self._last = (step, now)


def _age(moment: datetime | None, now: datetime) -> float:
    if moment is None:
        return 0.0
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return max((now - moment).total_seconds(), 0.0)


class DatabaseCollector(Collector):
    """State read from the database at scrape time (a few aggregate queries)."""

    def __init__(self, sessions: Any) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from veriframe.service.store import states as S

        try:
            snapshot = self._snapshot()
        except Exception as error:  # a scrape must not fail because the database is down
            log.warning("metrics: cannot read the database (%s)", type(error).__name__)
            up = GaugeMetricFamily("veriframe_database_up", "1 when the last scrape could read the database")
            up.add_metric([], 0)
            yield up
            return
        up = GaugeMetricFamily("veriframe_database_up", "1 when the last scrape could read the database")
        up.add_metric([], 1)
        yield up
        jobs = GaugeMetricFamily("veriframe_jobs", "Jobs in the database, by state", labels=["state"])
        for state in S.API_STATE:
            jobs.add_metric([state], snapshot["states"].get(state, 0))
        yield jobs
        yield _gauge("veriframe_queue_depth", "Jobs queued for a worker", snapshot["queued"])
        yield _gauge(
            "veriframe_queue_oldest_age_seconds", "Age of the oldest queued job", snapshot["queued_age"]
        )
        yield _gauge("veriframe_review_queue_size", "Jobs held for human review", snapshot["reviews"])
        yield _gauge(
            "veriframe_review_queue_oldest_age_seconds",
            "Age of the oldest pending review",
            snapshot["review_age"],
        )
        yield _gauge("veriframe_ledger_size", "Events in the audit ledger (tree size)", snapshot["ledger"])
        yield _gauge(
            "veriframe_ledger_checkpoint_age_seconds",
            "Age of the newest signed checkpoint (-1: none yet)",
            snapshot["checkpoint_age"],
        )

    def _snapshot(self) -> dict[str, Any]:
        from sqlalchemy import func, select

        from veriframe.service.db import Checkpoint, Job, LedgerHead, ReviewItem
        from veriframe.service.store import states as S

        now = datetime.now(timezone.utc)
        with self._sessions() as s:
            states = dict(s.execute(select(Job.state, func.count()).group_by(Job.state)).all())
            queued_since = s.scalar(select(func.min(Job.created_at)).where(Job.state == S.QUEUED))
            reviews, review_since = s.execute(
                select(func.count(), func.min(ReviewItem.created_at)).where(ReviewItem.state == "pending")
            ).one()
            head = s.get(LedgerHead, 1)
            newest = s.scalar(select(func.max(Checkpoint.timestamp)))
        return {
            "states": states,
            "queued": states.get(S.QUEUED, 0),
            "queued_age": _age(queued_since, now),
            "reviews": reviews,
            "review_age": _age(review_since, now),
            "ledger": head.tree_size if head is not None else 0,
            "checkpoint_age": _age(newest, now) if newest is not None else -1.0,
        }


def _gauge(name: str, documentation: str, value: float) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    family.add_metric([], value)
    return family


class GpuCollector(Collector):
    """CUDA memory per device, when this process has torch loaded and a GPU (never imports torch)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        torch = sys.modules.get("torch")
        if torch is None or not torch.cuda.is_available():
            return
        allocated = GaugeMetricFamily(
            "veriframe_gpu_memory_allocated_bytes", "CUDA memory held by tensors", labels=["device"]
        )
        reserved = GaugeMetricFamily(
            "veriframe_gpu_memory_reserved_bytes",
            "CUDA memory reserved by the caching allocator",
            labels=["device"],
        )
        peak = GaugeMetricFamily(
            "veriframe_gpu_memory_peak_bytes", "Peak CUDA memory held by tensors", labels=["device"]
        )
        for index in range(torch.cuda.device_count()):
            device = f"cuda:{index}"
            allocated.add_metric([device], torch.cuda.memory_allocated(index))
            reserved.add_metric([device], torch.cuda.memory_reserved(index))
            peak.add_metric([device], torch.cuda.max_memory_allocated(index))
        yield from (allocated, reserved, peak)


def registry_for(sessions: Any) -> CollectorRegistry:
    """One server's registry: the event metrics, the database and GPU collectors, process metrics."""
    from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR

    registry = CollectorRegistry(auto_describe=False)
    for collector in (*EVENT_METRICS, DatabaseCollector(sessions), GpuCollector()):
        registry.register(collector)
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        registry.register(collector)
    return registry
