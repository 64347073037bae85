"""Running-job slots per tenant across gateway processes: a row per (tenant, process) holding
how many of the tenant's concurrency slots that process has leased.

A process leases slots in chunks and keeps them while it uses them (and a moment after), so
starting a job asks the database only when the process holds no free slot. A lease is one
conditional statement: `INSERT ... SELECT ... WHERE (slots held by live processes) + n <=
limit ON CONFLICT (tenant_id, owner) DO UPDATE SET held = held + n RETURNING held`. On SQLite
the writer's transaction holds the database's write lock from its `BEGIN IMMEDIATE`; on
PostgreSQL a transaction-scoped advisory lock per tenant comes first, so two processes never
count the same free slots. A process whose rows were not renewed within the job lease (it
died) no longer counts: its slots are free for the others, and its rows are purged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from typing import Any, cast

from sqlalchemy import Integer, String, Table, case, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.base import UtcDateTime
from registry.db.upsert import dialect_name, upsert_insert
from registry.jobs.tables import TenantSlotLeaseRow

_LEASES = cast(Table, TenantSlotLeaseRow.__table__)
_LOCK_PREFIX = "clearance.tenant_slots:"


def _lease_statement(
    session: AsyncSession,
    tenant_id: str,
    owner: str,
    amount: int,
    limit: int,
    now: dt.datetime,
    stale: dt.datetime,
) -> Any:
    insert = upsert_insert(session, _LEASES)
    held_by_live = (
        select(func.coalesce(func.sum(_LEASES.c.held), 0))
        .where(
            _LEASES.c.tenant_id == tenant_id,
            or_(_LEASES.c.owner == owner, _LEASES.c.renewed_at >= stale),
        )
        .scalar_subquery()
    )
    values = select(
        literal(tenant_id, String()),
        literal(owner, String()),
        literal(amount, Integer()),
        literal(now, UtcDateTime()),
    ).where(held_by_live + amount <= limit)
    return (
        insert.from_select(["tenant_id", "owner", "held", "renewed_at"], values)
        .on_conflict_do_update(
            index_elements=[_LEASES.c.tenant_id, _LEASES.c.owner],
            set_={"held": _LEASES.c.held + insert.excluded.held, "renewed_at": insert.excluded.renewed_at},
        )
        .returning(_LEASES.c.held)
    )


async def lease(
    session: AsyncSession,
    tenant_id: str,
    owner: str,
    amount: int,
    limit: int,
    *,
    now: dt.datetime,
    stale_before: dt.datetime,
) -> int:
    """Take `amount` more of `tenant_id`'s slots for `owner`, or one when fewer are free; how
    many were granted (0: live processes hold the limit). Rows renewed before `stale_before`
    belong to processes that died and do not count (the owner's own always counts)."""
    if dialect_name(session) == "postgresql":
        key = func.hashtextextended(literal(_LOCK_PREFIX + tenant_id, String()), 0)
        await session.execute(select(func.pg_advisory_xact_lock(key)))
    for asked in dict.fromkeys((amount, 1)):
        statement = _lease_statement(session, tenant_id, owner, asked, limit, now, stale_before)
        if (await session.execute(statement)).first() is not None:
            return asked
    return 0


async def release(session: AsyncSession, tenant_id: str, owner: str, amount: int) -> None:
    """Give back `amount` of the slots `owner` holds of `tenant_id` (its row goes at zero)."""
    row = (_LEASES.c.tenant_id == tenant_id, _LEASES.c.owner == owner)
    left = _LEASES.c.held - amount
    await session.execute(update(_LEASES).where(*row).values(held=case((left < 0, 0), else_=left)))
    await session.execute(delete(_LEASES).where(*row, _LEASES.c.held == 0))


async def renew(
    session: AsyncSession, owner: str, alive: Collection[str], kept: Mapping[str, int], *, now: dt.datetime
) -> None:
    """Mark alive at `now` the rows of `owner` for the tenants in `alive` (those whose slots the
    process holds, or gives back without the database having taken it yet); a tenant of `kept`
    (slots the process keeps, by count) whose row is gone (purged while the process could not
    renew it) is written again with that count. A row of `owner` for any other tenant is not
    renewed: it goes stale and is purged, so a row the process no longer accounts for (written
    back while a release removed it) cannot hold the tenant's slots for ever."""
    renewed: set[str] = set()
    if alive:
        result = await session.execute(
            update(_LEASES)
            .where(_LEASES.c.owner == owner, _LEASES.c.tenant_id.in_(sorted(alive)))
            .values(renewed_at=now)
            .returning(_LEASES.c.tenant_id)
        )
        renewed.update(result.scalars().all())
    missing = {t for t, n in kept.items() if n > 0} - renewed
    if missing:
        insert = upsert_insert(session, _LEASES)
        rows = [{"tenant_id": t, "owner": owner, "held": kept[t], "renewed_at": now} for t in sorted(missing)]
        await session.execute(insert.values(rows).on_conflict_do_nothing())


async def forget(session: AsyncSession, owner: str) -> None:
    """Give back every slot `owner` holds (its process stops)."""
    await session.execute(delete(_LEASES).where(_LEASES.c.owner == owner))


async def purge_stale(session: AsyncSession, stale_before: dt.datetime) -> int:
    """Delete the rows of processes that stopped renewing them; how many went."""
    result = await session.execute(delete(_LEASES).where(_LEASES.c.renewed_at < stale_before))
    return int(getattr(result, "rowcount", 0) or 0)


async def held_by(session: AsyncSession, tenant_id: str) -> dict[str, int]:
    """Slots of `tenant_id` per owner, as the database has them (for tests and operators)."""
    rows = await session.execute(
        select(_LEASES.c.owner, _LEASES.c.held).where(_LEASES.c.tenant_id == tenant_id)
    )
    return {owner: held for owner, held in rows}
