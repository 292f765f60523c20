"""Micro-batching of concurrent screenings: one classifier call for the prompts that arrive together.

The classifier's encoder runs one batch at a time (torch modules are not re-entrant). Without batching,
concurrent Submits queue on that lock and each pays a full forward pass for one prompt; with it, the
prompts that arrive within ``window_s`` of the first waiting one (at most ``max_batch``) share a pass.

``MicroBatcher(fn)`` is generic: ``fn(items) -> results`` (same length; an item's result may be an
exception, which is raised to that caller only). ``BatchedScreener`` wires it to ``screen_many``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from veriframe.safety.classifier import Classifier
from veriframe.safety.policy import Policy
from veriframe.safety.screen import Decision, PromptError, screen, screen_many

T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Collects items from many threads into batches for ``fn``; one background thread runs the batches."""

    def __init__(
        self,
        fn: Callable[[list[T]], Sequence[R | BaseException]],
        *,
        max_batch: int = 32,
        window_s: float = 0.004,
        name: str = "micro-batcher",
    ) -> None:
        if max_batch < 1 or window_s < 0:
            raise ValueError("max_batch must be >= 1 and window_s >= 0")
        self._fn, self.max_batch, self.window_s = fn, max_batch, window_s
        self._pending: list[tuple[T, Future]] = []
        self._cond = threading.Condition()
        self._closed = False
        self.batches = 0  # counters, for benchmarks and tests
        self.items = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, item: T) -> Future:
        """A future for ``item``'s result."""
        fut: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the micro-batcher is closed")
            self._pending.append((item, fut))
            self._cond.notify()
        return fut

    def __call__(self, item: T, timeout: float | None = None) -> R:
        """Submit and wait: the result, or the item's exception re-raised."""
        return self.submit(item).result(timeout)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=5)

    def _take(self) -> list[tuple[T, Future]] | None:
        with self._cond:
            while not self._pending and not self._closed:
                self._cond.wait()
            if not self._pending:
                return None
            deadline = time.monotonic() + self.window_s
            while len(self._pending) < self.max_batch and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
            return batch

    def _run(self) -> None:
        while (batch := self._take()) is not None:
            self.batches += 1
            self.items += len(batch)
            try:
                results = self._fn([item for item, _ in batch])
                if len(results) != len(batch):
                    raise RuntimeError(
                        f"batch function returned {len(results)} results for {len(batch)} items"
                    )
            except BaseException as exc:
                results = [exc] * len(batch)
            for (_, fut), res in zip(batch, results, strict=True):
                if isinstance(res, BaseException):
                    fut.set_exception(res)
                else:
                    fut.set_result(res)


class BatchedScreener:
    """``screen(prompt, policy)`` for many threads at once, batched through one ``screen_many`` call per
    policy in the batch. A prompt that cannot be screened fails only its own caller (``PromptError``)."""

    def __init__(
        self, classifier: Classifier | None, *, max_batch: int = 32, window_s: float = 0.004
    ) -> None:
        self.classifier = classifier
        self._batcher: MicroBatcher[tuple[Any, Policy], Decision] = MicroBatcher(
            self._screen_batch, max_batch=max_batch, window_s=window_s, name="screening-batcher"
        )

    def screen(self, prompt: str | bytes, policy: Policy, timeout: float | None = 60.0) -> Decision:
        return self._batcher((prompt, policy), timeout)

    @property
    def stats(self) -> dict[str, int]:
        return {"batches": self._batcher.batches, "prompts": self._batcher.items}

    def close(self) -> None:
        self._batcher.close()

    def _screen_batch(self, items: list[tuple[Any, Policy]]) -> list[Decision | BaseException]:
        out: list[Decision | BaseException | None] = [None] * len(items)
        groups: dict[int, list[int]] = {}
        for i, (_, policy) in enumerate(items):
            groups.setdefault(id(policy), []).append(i)  # the same live policy object, usually
        for idx in groups.values():
            policy = items[idx[0]][1]
            try:
                for i, d in zip(
                    idx, screen_many([items[i][0] for i in idx], policy, self.classifier), strict=True
                ):
                    out[i] = d
            except PromptError:  # one bad prompt in the group: decide them one by one
                for i in idx:
                    try:
                        out[i] = screen(items[i][0], policy, self.classifier)
                    except PromptError as exc:
                        out[i] = exc
        return out  # type: ignore[return-value]
