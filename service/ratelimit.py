"""Per-key rate limits shared by every API server, through the `limits` library on Redis.

    rate_limit_storage = "redis://127.0.0.1:6379/0"     # settings (VERIFRAME_RATE_LIMIT_STORAGE)

Unset (the embedded default), each process keeps its own token buckets (`auth.TokenBucket`), so N API
servers allow N times the limit; with a shared storage every server draws from one budget per key.

The token bucket's "`rate` per second, bursts up to `burst`" becomes a moving window of `burst`
requests per `burst / rate` seconds: the same burst, and the same long-run rate.

If the storage cannot be reached mid-flight the request is let through and a warning is logged
(throttled): an outage of the limiter should not take the API down. At start-up it must answer.
"""

from __future__ import annotations

import logging
import math
import time

log = logging.getLogger(__name__)
NAMESPACE = "veriframe-rate"


class RateLimitStorageError(RuntimeError):
    """The configured storage cannot be reached (raised at start-up)."""


class SharedRateLimiter:
    def __init__(self, uri: str, *, rate_per_minute: float, burst: int) -> None:
        from limits import RateLimitItemPerSecond, storage, strategies

        per_second = rate_per_minute / 60.0
        self.item = RateLimitItemPerSecond(burst, max(1, math.ceil(burst / per_second)))
        try:
            self._storage = storage.storage_from_string(uri)
            reachable = self._storage.check()
        except Exception as error:  # a bad URI, a missing driver
            raise RateLimitStorageError(f"rate_limit_storage {uri!r}: {error}") from None
        if not reachable:
            raise RateLimitStorageError(f"rate_limit_storage {uri!r} does not answer (is Redis running?)")
        self._limiter = strategies.MovingWindowRateLimiter(self._storage)
        self._last_warning = 0.0

    def take(self, key_id: str) -> float:
        """0.0 when the request may go ahead, else the seconds until it may."""
        try:
            if self._limiter.hit(self.item, NAMESPACE, key_id):
                return 0.0
            reset, _ = self._limiter.get_window_stats(self.item, NAMESPACE, key_id)
        except Exception as error:
            now = time.monotonic()
            if now - self._last_warning > 60:
                self._last_warning = now
                log.warning(
                    "rate limit storage unreachable (%s): letting requests through", type(error).__name__
                )
            return 0.0
        return max(reset - time.time(), 0.001)
