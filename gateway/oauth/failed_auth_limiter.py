"""Limits failed client authentications per client id and per network address.

In memory, per process (each replica counts for itself): enough to make guessing online
pointless, since secrets carry 256 bits, and to keep a broken client from flooding the audit log.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterable

_MAX_TRACKED_KEYS = 100_000


class FailedAuthenticationLimiter:
    def __init__(
        self, *, limit: int, window_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._window = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}

    def retry_after(self, keys: Iterable[str]) -> int | None:
        """Seconds to wait when any key has used up its failures in the window, else None."""
        now = self._clock()
        waits = []
        for key in keys:
            failures = self._failures.get(key)
            if failures is None:
                continue
            self._drop_old(failures, now)
            if len(failures) >= self._limit:
                waits.append(failures[0] + self._window - now)
        return max(1, math.ceil(max(waits))) if waits else None

    def record_failure(self, keys: Iterable[str]) -> None:
        now = self._clock()
        if len(self._failures) > _MAX_TRACKED_KEYS:
            self._failures = {k: v for k, v in self._failures.items() if v and v[-1] > now - self._window}
        for key in keys:
            failures = self._failures.setdefault(key, deque(maxlen=self._limit))
            self._drop_old(failures, now)
            failures.append(now)

    def _drop_old(self, failures: deque[float], now: float) -> None:
        while failures and failures[0] <= now - self._window:
            failures.popleft()
