"""Per-tenant submission rate, counted in this process (a sliding window of one minute)."""

from __future__ import annotations

from collections import deque


class TenantRateLimiter:
    def __init__(self, per_minute: int, window_s: float = 60.0) -> None:
        self.per_minute = per_minute
        self.window_s = window_s
        self._times: dict[str, deque[float]] = {}

    def take(self, tenant_id: str, *, now: float) -> float | None:
        """Count one submission; None when allowed, else the seconds until one is."""
        times = self._times.setdefault(tenant_id, deque())
        while times and now - times[0] >= self.window_s:
            times.popleft()
        if len(times) >= self.per_minute:
            return self.window_s - (now - times[0])
        times.append(now)
        return None
