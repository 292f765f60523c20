"""The GPU worker (one per device) and the maintenance loop, as asyncio tasks of the server process
(docs/architecture.md: the walk of one execute).

A worker claims a job (atomically, under a lease), runs `Workflow.execute` in its own thread, and
renews the lease from the event loop every third of its length. A heartbeat that finds the job no
longer ours (the lease was taken over) or a cancel request sets the flags the engine polls between
steps. On shutdown the worker stops claiming, lets the running job finish for `grace` seconds, then
stops it between steps and puts it back in the queue for another worker.

The maintenance loop (every server runs one; all its steps are idempotent and safe to race):
recovers expired leases, expires pending reviews, signs ledger checkpoints, purges old prompts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from veriframe.service.flow.types import WorkerContext
from veriframe.service.flow.workflow import Workflow
from veriframe.service.observability import metrics
from veriframe.service.periodic import Periodic
from veriframe.service.store.jobs import JobStore

log = logging.getLogger(__name__)


class JobNotifier:
    """In-process wake-ups for StreamEvents (other processes' changes are seen by polling)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._events: dict[str, set[asyncio.Event]] = {}

    def notify(self, job_id: str) -> None:
        """Thread-safe."""
        self._loop.call_soon_threadsafe(self._wake, job_id)

    def _wake(self, job_id: str) -> None:
        for event in self._events.get(job_id, ()):
            event.set()

    async def wait(self, job_id: str, timeout: float) -> None:
        event = asyncio.Event()
        self._events.setdefault(job_id, set()).add(event)
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass
        finally:
            waiters = self._events.get(job_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    del self._events[job_id]


class Engines:
    """A worker's models: the main checkpoint (t2v, v2v) and, when configured, the i2v one (lazily)."""

    def __init__(self, main: Any, i2v_loader: Callable[[], Any] | None = None) -> None:
        self.main = main
        self.info = main.info
        self._i2v_loader = i2v_loader
        self._i2v: Any = None

    def for_mode(self, mode: str) -> Any:
        if mode != "i2v" or "i2v" in self.main.info.modes:
            return self.main
        if self._i2v is None:
            if self._i2v_loader is None:
                from veriframe.service.errors import InvalidArgument

                raise InvalidArgument("params.mode", "this server has no image-to-video model")
            self._i2v = self._i2v_loader()
        return self._i2v

    def validate(self, params: Any) -> Any:
        """Model limits checked at Submit; an i2v model not loaded yet is checked when the job runs."""
        if params.mode == "i2v" and "i2v" not in self.main.info.modes and self._i2v is None:
            return None
        return self.for_mode(params.mode).validate(params)


def new_worker_id(index: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:w{index}"


class Worker:
    def __init__(
        self,
        workflow: Workflow,
        store: JobStore,
        engine_loader: Callable[[], Any],
        *,
        worker_id: str,
        notify: Callable[[str], None],
        poll_interval: float = 0.5,
        on_loaded: Callable[[Worker, str | None], None] | None = None,
        after_job: Callable[[], None] | None = None,
        post_depth: int = 1,
    ) -> None:
        self.workflow = workflow
        self.store = store
        self.worker_id = worker_id
        self._engine_loader = engine_loader
        self._notify = notify
        self._poll = poll_interval
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"gen-{worker_id}")
        # Watermark, encode, sign and record run here, so the GPU thread starts the next job at once;
        # at most `post_depth` finished videos wait for it (back-pressure: frames never pile up).
        self._post = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"post-{worker_id}")
        self._post_depth = post_depth
        self._finishing: set[asyncio.Task[None]] = set()
        self._progress: Any = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._ctx: WorkerContext | None = None
        self._task: asyncio.Task[None] | None = None
        self.engine: Any = None
        self.load_error: str | None = None  # why the model could not be loaded (the worker then idles)
        self._on_loaded = on_loaded or (lambda worker, error: None)
        self._after_job = after_job  # e.g. memory.trim: runs in the worker's thread after each job

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.worker_id)

    @property
    def model_state(self) -> str:
        """"loaded", "failed" (see `load_error`; the worker idles) or "loading": what readiness reads."""
        if self.engine is not None:
            return "loaded"
        return "failed" if self.load_error is not None else "loading"

    def wake(self) -> None:
        """A job was queued here: claim without waiting for the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self.engine = await loop.run_in_executor(self._thread, self._engine_loader)
        except Exception as error:
            # Jobs stay queued (safe in the database) for other workers; this one cannot run any.
            log.exception("worker %s could not load its model: it takes no jobs", self.worker_id)
            self.load_error = f"{type(error).__name__}: {error}"
            self._on_loaded(self, self.load_error)
            return
        self._on_loaded(self, None)
        from veriframe.service.engine.handoff import ProgressBatcher

        self._progress = ProgressBatcher(self._write_progress, interval=0.2)
        log.info("worker %s ready (%s)", self.worker_id, self.engine.info.name)
        while not self._stopping.is_set():
            try:
                job = await loop.run_in_executor(self._thread, self.store.claim, self.worker_id)
            except Exception:  # the database is down: keep trying, the jobs are safe there
                log.exception("worker %s: claim failed", self.worker_id)
                job = None
            if job is None:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._poll)
                continue
            await self._run_job(job)

    def _write_progress(self, job_id: str, step: int, total: int) -> None:
        self.store.progress(job_id, self.worker_id, step, total)
        self._notify(job_id)

    async def _run_job(self, job: Any) -> None:
        """Generate on the GPU thread; hand the video to the post-processing thread and return."""
        loop = asyncio.get_running_loop()
        ctx = WorkerContext(
            worker_id=self.worker_id, engine=self.engine, on_change=self._notify, progress=self._progress
        )
        self._ctx = ctx
        self._notify(job.id)
        beat = loop.create_task(self._heartbeat(job.id, ctx))
        try:
            outcome = await loop.run_in_executor(self._thread, self.workflow.execute_generation, job, ctx)
        except Exception:
            # The database went away mid-job: the lease will expire and the job will be recovered.
            log.exception("job %s: could not be completed by %s", job.id, self.worker_id)
            outcome = None
        finally:
            self._ctx = None
        if not isinstance(outcome, tuple):
            beat.cancel()
            log.info("job %s -> %s", job.id, outcome)
            if outcome is not None:
                metrics.JOBS_FINISHED.labels(outcome=outcome).inc()
            self._notify(job.id)
            return
        while len(self._finishing) >= self._post_depth:  # back-pressure
            await asyncio.wait(self._finishing, return_when=asyncio.FIRST_COMPLETED)
        task = loop.create_task(self._finish(job, ctx, outcome, beat))
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    async def _finish(self, job: Any, ctx: WorkerContext, generated: Any, beat: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        try:  # the heartbeat keeps the lease while the video is being marked
            state = await loop.run_in_executor(self._post, self.workflow.finish, job, ctx, generated)
            log.info("job %s -> %s", job.id, state)
            metrics.JOBS_FINISHED.labels(outcome=state).inc()
        except Exception:
            log.exception("job %s: could not be completed by %s", job.id, self.worker_id)
        finally:
            beat.cancel()
            self._notify(job.id)
        if self._after_job is not None:  # (on the post-processing thread: the GPU thread is busy)
            await loop.run_in_executor(self._post, self._after_job)

    async def _heartbeat(self, job_id: str, ctx: WorkerContext) -> None:
        # Renewing is one small UPDATE; doing it every half second also makes cancel requests quick.
        check = min(self.store.lease.total_seconds() / 3, 0.5)
        while True:
            await asyncio.sleep(check)
            try:
                owned, cancel = await asyncio.to_thread(self.store.heartbeat, job_id, self.worker_id)
            except Exception:
                log.warning("job %s: heartbeat failed (database?)", job_id)
                continue
            if not owned:
                ctx.stop.set()
                return
            if cancel:
                ctx.cancel.set()

    async def stop(self, grace: float) -> None:
        """Stop claiming; give the running job `grace` seconds, then stop it (it is requeued)."""
        self._stopping.set()
        self._wake.set()
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=grace)
        if not done:
            ctx = self._ctx
            if ctx is not None:
                ctx.stop.set()
            try:
                await asyncio.wait_for(self._task, timeout=max(grace, 30.0))
            except asyncio.TimeoutError:
                log.error(
                    "worker %s did not stop; its job's lease will expire and be recovered", self.worker_id
                )
                self._task.cancel()
        if self._finishing:  # videos already generated: let them be marked and recorded
            await asyncio.wait(self._finishing, timeout=max(grace, 30.0))
        if self._progress is not None:
            self._progress.close()
        self._thread.shutdown(wait=False)
        self._post.shutdown(wait=False)
        # A multi-device engine (engine/parallel.py) holds follower processes and a process group.
        close = getattr(getattr(self.engine, "main", None), "close", None)
        if close is not None:
            try:
                await asyncio.to_thread(close)
            except Exception:
                log.warning("worker %s: the multi-device engine did not close cleanly", self.worker_id)


class Maintenance:
    """Periodic housekeeping; every step is safe when several servers run it at once."""

    def __init__(
        self,
        workflow: Workflow,
        store: JobStore,
        *,
        interval: float,
        checkpoint_interval: float,
        purge_interval: float = 3600.0,
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.workflow, self.store = workflow, store
        self.interval, self.checkpoint_interval, self.purge_interval = (
            interval,
            checkpoint_interval,
            purge_interval,
        )
        self._notify = notify or (lambda job_id: None)
        self._last_checkpoint = self._last_purge = 0.0
        self._loop = Periodic(
            "maintenance", self._step, interval, log, "maintenance step failed (will retry)"
        )

    def start(self) -> None:
        self._loop.start()

    def run_once(self) -> None:
        for item in self.store.recover_expired():
            self._notify(item.job_id)
        self.workflow.expire_reviews()

    async def _step(self) -> None:
        await asyncio.to_thread(self.run_once)
        now = time.monotonic()
        ledger = self.workflow.ledger
        if now - self._last_checkpoint >= self.checkpoint_interval and ledger.public_key is not None:
            await asyncio.to_thread(self.workflow.ledger.checkpoint)
            self._last_checkpoint = now
        if now - self._last_purge >= self.purge_interval:
            await asyncio.to_thread(self.workflow.ledger.purge_prompts)
            self._last_purge = now

    async def stop(self) -> None:
        await self._loop.stop()
