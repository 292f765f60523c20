"""The server's log of rejected requests: one line per class of rejection, rate-limited.

A client error is the client's business, not an operator's: it is never logged with a traceback, a
key, a prompt or the client's values, only the class (status code, and the field for
INVALID_ARGUMENT) and the RPC. A flood of the same mistake costs one line per `window` seconds, which
reports how many were folded into it, so an unauthenticated client cannot fill the disk.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger("veriframe.service.rejected")
WINDOW_S = 60.0
MAX_CLASSES = 1024  # distinct classes remembered; past it the oldest window is forgotten


class RejectionLog:
    def __init__(
        self,
        logger: logging.Logger = log,
        *,
        window: float = WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log, self._window, self._clock = logger, window, clock
        self._last: dict[str, float] = {}
        self._folded: dict[str, int] = {}
        self._lock = threading.Lock()

    def note(self, kind: str, method: str) -> None:
        """Record one rejected request of class `kind`; logs at most once a window (naming the RPC
        of the request that opened it)."""
        key = kind
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._window:
                self._folded[key] = self._folded.get(key, 0) + 1
                return
            folded = self._folded.pop(key, 0)
            if len(self._last) >= MAX_CLASSES and key not in self._last:
                self._last.pop(next(iter(self._last)))
            self._last[key] = now
        self._log.info(
            "rejected %s, e.g. on %s (%d more since the last line for it)", kind, method, folded
        )


REJECTIONS = RejectionLog()
