"""glibc heap hygiene for a long-running server: fewer malloc arenas, freed memory handed back.

Under load the server's RSS grows and stays high although Python and torch free what they used:
glibc gives each thread that allocates (the DB/auth thread pool, gRPC's threads, the worker, torch's
intra-op threads) an arena of its own (up to 8 per core), and memory freed inside an arena stays
mapped to the process until it is trimmed. Capping the arenas (`mallopt(M_ARENA_MAX)`, what the
MALLOC_ARENA_MAX variable sets) and calling `malloc_trim(0)` after each job return it
(docs/benchmarks.md has the figures). Both are no-ops where the C library is not glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys
from functools import cache

log = logging.getLogger(__name__)
M_ARENA_MAX = -8  # glibc's malloc.h


@cache
def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def limit_arenas(count: int) -> bool:
    """At most `count` malloc arenas from now on (0 leaves glibc's default); True when applied."""
    libc = _glibc()
    if libc is None or count <= 0:
        return False
    applied = bool(libc.mallopt(M_ARENA_MAX, count))
    if not applied:
        log.warning("mallopt(M_ARENA_MAX, %d) was refused", count)
    return applied


def trim() -> None:
    """Hand freed heap memory back to the operating system (glibc's malloc_trim(0))."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
