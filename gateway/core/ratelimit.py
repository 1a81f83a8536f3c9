"""Token buckets per key (a client address): bounds how fast one client may use the unauthenticated endpoints."""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["RateLimiter"]


class RateLimiter:
    """``per_minute`` requests per key on average, up to ``burst`` at once; ``per_minute=0`` turns it off.

    Thread-safe. At most ``max_keys`` buckets are kept (the least recently used are dropped), so a flood of
    distinct keys cannot grow memory without bound; a dropped key starts again with a full bucket.
    """

    def __init__(
        self,
        per_minute: int,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        if per_minute < 0 or burst < 1 or max_keys < 1:
            raise ValueError("per_minute must be >= 0, burst and max_keys >= 1")
        self.per_minute = per_minute
        self.burst = burst
        self._rate = per_minute / 60.0
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> int | None:
        """Take one token for ``key``: None if allowed, else the whole seconds to wait (for ``Retry-After``)."""
        if self.per_minute == 0:
            return None
        now = self._clock()
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - at) * self._rate)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return None if allowed else max(1, math.ceil((1.0 - tokens) / self._rate))
