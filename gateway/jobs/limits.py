"""Per-tenant submission rate, in windows of one UTC minute, across every gateway process that
shares the database.

The count lives in the database (`registry.jobs.rate`): a process leases a chunk of the minute's
submissions at a time and spends it from memory, so it asks the database once per chunk (a write
through the job writer, committed with the admissions of the moment), not once per submission.
A tenant never gets more than its limit in a minute, summed over the processes; a process that
leased more than it used leaves the rest unused, so a tenant spread over N processes may get up
to N times a chunk less. The chunk is a twentieth of the limit, between 1 and 100.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

WINDOW_S = 60
Lease = Callable[[str, int, int], Awaitable[int]]
"""`(tenant id, minute since the epoch, how many)` -> how many were granted (all, one or none)."""
_PRUNE_ABOVE = 10_000


@dataclass
class _Held:
    minute: int
    left: int = 0
    exhausted: bool = False
    """The database refused more for this minute (under `limit`)."""
    limit: int = 0
    leasing: asyncio.Future[None] | None = None


class TenantRateLimiter:
    def __init__(
        self,
        per_minute: int,
        lease: Lease,
        *,
        chunk: int | None = None,
        limit_of: Callable[[str], int] | None = None,
    ) -> None:
        self.per_minute = per_minute
        """The limit of a tenant without one of its own (`limit_of`)."""
        self.limit_of = limit_of or (lambda _tenant: per_minute)
        self.chunk = chunk
        """Submissions leased at a time; None: a twentieth of the tenant's limit, 1 to 100."""
        self._lease = lease
        self._held: dict[str, _Held] = {}

    async def take(self, tenant_id: str, *, now: float) -> float | None:
        """Count one submission at `now` (Unix time); None when allowed, else the seconds until
        the next minute, when one may be."""
        minute = int(now // WINDOW_S)
        while True:
            held = self._held.get(tenant_id)
            if held is None or held.minute < minute:
                held = self._start(tenant_id, minute)
            if held.left > 0:
                held.left -= 1
                return None
            if held.exhausted:
                limit = self.limit_of(tenant_id)
                if limit == held.limit:
                    return (held.minute + 1) * WINDOW_S - now
                held.exhausted = False  # the tenant's limit changed: ask the database again
            if held.leasing is not None:  # one lease at a time per tenant: wait for it, look again
                await held.leasing
                continue
            held.leasing = asyncio.get_running_loop().create_future()
            try:
                held.limit = self.limit_of(tenant_id)
                chunk = self.chunk or max(1, min(held.limit // 20, 100))
                granted = await self._lease(tenant_id, held.minute, chunk)
            finally:
                held.leasing.set_result(None)
                held.leasing = None
            held.left += granted
            held.exhausted = granted == 0

    def _start(self, tenant_id: str, minute: int) -> _Held:
        if len(self._held) >= _PRUNE_ABOVE:
            self._held = {t: h for t, h in self._held.items() if h.minute >= minute}
        held = self._held[tenant_id] = _Held(minute)
        return held
