"""Per-tenant concurrency across every gateway process that shares the database.

A job runs only while its process holds one of its tenant's slots. Slots are leased from the
database (`registry.jobs.slots`) in chunks (a twentieth of the limit, 1 to 100) and kept while
jobs use them, so starting a job costs a database write only when the process has no free slot
of that tenant; a slot left free for `linger_s` is given back, so another process may take it.
The processes together never hold more than the limit; a process holding a free slot it is
about to give back may keep another process's job waiting that long.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from registry.jobs import slots as slot_rows
from registry.jobs.writer import JobWriter, WorkContext

log = logging.getLogger(__name__)

Lease = Callable[[str, int, int], Awaitable[int]]
"""`(tenant id, how many, the tenant's limit)` -> how many were granted (all, one or none)."""
Release = Callable[[str, int], Awaitable[None]]
"""`(tenant id, how many)`: give back slots this process holds."""
Renew = Callable[[Callable[[], tuple[set[str], dict[str, int]]]], Awaitable[None]]
"""Keep this process's rows alive; the argument gives `(tenants alive, slots kept per tenant)`
at the moment the rows are written (`TenantSlots.renewal`)."""


@dataclass
class _Held:
    held: int = 0
    used: int = 0
    free_since: float = 0.0
    leasing: asyncio.Future[None] | None = None
    refused_at: float | None = None
    """When the database last had no slot for this process; asked again `retry_s` later."""


class TenantSlots:
    def __init__(
        self,
        limit: int,
        lease: Lease,
        release: Release,
        *,
        chunk: int | None = None,
        linger_s: float = 1.0,
        retry_s: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
        limit_of: Callable[[str], int] | None = None,
        renew: Renew | None = None,
    ) -> None:
        self.limit = limit
        """The limit of a tenant without one of its own (`limit_of`)."""
        self.limit_of = limit_of or (lambda _tenant: limit)
        self.chunk = chunk
        """Slots leased at a time; None: a twentieth of the tenant's limit, 1 to 100."""
        self.linger_s = linger_s
        self.retry_s = retry_s
        self._lease = lease
        self._release = release
        self._renew = renew
        self._clock = clock
        self._tenants: dict[str, _Held] = {}
        self._unreleased: dict[str, int] = {}
        """Slots given back in memory whose release the database did not take yet."""
        self._releasing = asyncio.Lock()
        """One `release_idle` at a time (the release timer and the maintenance loop both call
        it): two at once would give the same slots back twice."""

    def _chunk_for(self, limit: int) -> int:
        return self.chunk if self.chunk is not None else max(1, min(limit // 20, 100))

    def renewal(self) -> tuple[set[str], dict[str, int]]:
        """What the rows of this process should say now: the tenants whose rows stay alive
        (slots held, or given back without the database having taken it yet) and the slots kept
        per tenant (written back if the row was purged; never those being given back)."""
        kept = {t: h.held for t, h in self._tenants.items() if h.held > 0}
        return set(kept) | {t for t, n in self._unreleased.items() if n > 0}, kept

    async def renew(self) -> None:
        """Renew this process's rows (each lease renewal of the maintenance loop); nothing to
        write while it holds no slot."""
        if self._renew is not None and (self._tenants or self._unreleased):
            await self._renew(self.renewal)

    def take_now(self, tenant_id: str) -> bool:
        """Take a free slot this process already holds; False when it has none."""
        held = self._tenants.get(tenant_id)
        if held is None or held.used >= held.held:
            return False
        held.used += 1
        return True

    def may_lease(self, tenant_id: str) -> bool:
        """Whether asking the database for a slot now could help: this process holds fewer
        than the limit, no lease of the tenant is under way, and the last refusal is old."""
        held = self._tenants.get(tenant_id)
        if held is None:
            return True
        if held.held >= self.limit_of(tenant_id) or held.leasing is not None:
            return False
        return held.refused_at is None or self._clock() - held.refused_at >= self.retry_s

    async def take(self, tenant_id: str) -> bool:
        """Take a slot, leasing more when this process has none free; False when the tenant's
        slots are all held (here or by other processes) or the database did not answer."""
        while not self.take_now(tenant_id):
            if not await self.lease(tenant_id):
                return False
        return True

    async def lease(self, tenant_id: str) -> bool:
        """Lease more slots of the tenant (one lease at a time per tenant); True when a free
        slot is held afterwards."""
        while True:  # the entry is looked up again after a wait: `release_idle` may drop one
            held = self._tenants.setdefault(tenant_id, _Held())
            if held.leasing is None:
                break
            await held.leasing
        if held.used < held.held:
            return True
        limit = self.limit_of(tenant_id)
        if held.held >= limit:
            return False
        held.leasing = asyncio.get_running_loop().create_future()
        try:
            granted = await self._lease(tenant_id, min(self._chunk_for(limit), limit - held.held), limit)
        except Exception as exc:  # the database is down: the job waits, as when slots are held
            log.warning("tenant %s: no slot leased: %s", tenant_id, exc)
            granted = 0
        finally:
            held.leasing.set_result(None)
            held.leasing = None
        held.held += granted
        if granted:
            held.refused_at = None
            held.free_since = self._clock()
            return True
        held.refused_at = self._clock()
        return False

    def give(self, tenant_id: str) -> None:
        """A job of the tenant ended (or never started): its slot is free again, here."""
        held = self._tenants.get(tenant_id)
        if held is None or held.used == 0:
            raise AssertionError(f"tenant {tenant_id}: a slot given back that was not taken")
        held.used -= 1
        held.free_since = self._clock()

    async def release_idle(self) -> None:
        """Give back to the database the slots free for `linger_s` or more (and retry releases
        that failed)."""
        async with self._releasing:
            await self._release_idle()

    async def _release_idle(self) -> None:
        now = self._clock()
        for tenant_id, held in list(self._tenants.items()):
            free = held.held - held.used
            if free > 0 and held.leasing is None and now - held.free_since >= self.linger_s:
                held.held -= free
                self._unreleased[tenant_id] = self._unreleased.get(tenant_id, 0) + free
            if held.held == 0 and held.used == 0 and held.leasing is None:
                del self._tenants[tenant_id]
        for tenant_id, amount in list(self._unreleased.items()):
            try:
                await self._release(tenant_id, amount)
            except Exception as exc:  # the database is down: counted as held until it answers
                log.warning("tenant %s: %d slots not given back yet: %s", tenant_id, amount, exc)
                continue
            if self._unreleased.get(tenant_id) == amount:
                del self._unreleased[tenant_id]
            else:
                self._unreleased[tenant_id] -= amount

    def free(self, tenant_id: str) -> int:
        """Free slots of the tenant held here."""
        held = self._tenants.get(tenant_id)
        return 0 if held is None else held.held - held.used

    def any_free(self) -> bool:
        """Whether some tenant has a free slot here (one `release_idle` could give back)."""
        return bool(self._unreleased) or any(h.used < h.held for h in self._tenants.values())

    def forget(self) -> None:
        """The process stops: its rows are deleted with its other leases."""
        self._tenants.clear()
        self._unreleased.clear()


def leased_through(
    writer: JobWriter,
    owner: str,
    limit: int,
    *,
    lease_s: float,
    now: Callable[[], dt.datetime],
    limit_of: Callable[[str], int] | None = None,
) -> TenantSlots:
    """The slots of process `owner`, leased and given back through its job writer (written
    with the admissions of the moment); rows not renewed for `lease_s` no longer count.
    `limit_of` gives a tenant's own limit (`limit` otherwise)."""

    async def lease(tenant_id: str, amount: int, tenant_limit: int) -> int:
        at = now()

        async def take(context: WorkContext) -> int:
            stale = at - dt.timedelta(seconds=lease_s)
            return await slot_rows.lease(
                context.session, tenant_id, owner, amount, tenant_limit, now=at, stale_before=stale
            )

        return await writer.run(take)

    async def release(tenant_id: str, amount: int) -> None:
        async def give(context: WorkContext) -> None:
            await slot_rows.release(context.session, tenant_id, owner, amount)

        await writer.run(give)

    async def renew(renewal: Callable[[], tuple[set[str], dict[str, int]]]) -> None:
        # Through the writer, like the leases and releases: each runs alone in its turn, and
        # what the rows should say is read then, not before a release could remove a row.
        async def touch(context: WorkContext) -> None:
            alive, kept = renewal()
            await slot_rows.renew(context.session, owner, alive, kept, now=now())

        await writer.run(touch)

    return TenantSlots(limit, lease, release, limit_of=limit_of, renew=renew)
