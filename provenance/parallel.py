"""Per-frame work on every core, for the watermark's embedders and detectors.

OpenCV's filters and warps and numpy's FFTs release the GIL, so a pool of threads (not processes:
frames are large and shared) runs them side by side. Results come back in input order and every sum
over them is taken in that order, so a detection reads the same bits on one thread as on eight
(`tests/test_watermark.py`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """Threads for per-frame work: the cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def ordered_map(job: Callable[[T], R], items: Iterable[T], workers: int | None = None) -> list[R]:
    """``[job(x) for x in items]``, on ``workers`` threads (default :func:`default_workers`); on this
    thread when one is enough."""
    items = list(items)
    count = min(len(items), workers or default_workers())
    if count <= 1:
        return [job(x) for x in items]
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(job, items))
