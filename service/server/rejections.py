"""The server's log of rejected requests: one line per class of rejection, rate-limited.

A client error is the client's business, not an operator's: it is never logged with a traceback, a
key, a prompt or the client's values, only the class (status code, and the field for
INVALID_ARGUMENT) and the RPC. A flood of the same mistake costs one line per `window` seconds, which
reports how many were folded into it, so an unauthenticated client cannot fill the disk. The rate
limit is the request log's (`veriframe.service.observability.request_log.LogThrottle`), one line a
window per class.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from veriframe.service.observability.request_log import LogThrottle

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
        self._log = logger
        self._throttle = LogThrottle(1, window, clock, max_kinds=MAX_CLASSES)

    def note(self, kind: str, method: str) -> None:
        """Record one rejected request of class `kind`; logs at most once a window (naming the RPC
        of the request that opened it)."""
        allowed, folded = self._throttle.allow(kind)
        if allowed:
            self._log.info(
                "rejected %s, e.g. on %s (%d more since the last line for it)", kind, method, folded
            )


REJECTIONS = RejectionLog()
