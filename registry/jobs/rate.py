"""Per-tenant submission rates across gateway processes: a count per tenant and minute in the
database, granted in chunks (leases) so that a process asks the database once per chunk, not
once per submission.

A lease is one statement, atomic on SQLite and on PostgreSQL whatever the number of processes:
`INSERT ... ON CONFLICT (tenant_id, minute) DO UPDATE SET used = used + n WHERE used + n <=
limit RETURNING used`. It grants all `n` or nothing, so the tenant's submissions in a minute
never exceed the limit, summed over every process; a process that leased more than it used
leaves those unused (at most a chunk less than the limit per process and minute).
"""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Table, delete
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.upsert import upsert_insert
from registry.jobs.tables import TenantRateWindowRow

_WINDOWS = cast(Table, TenantRateWindowRow.__table__)


def _lease_statement(session: AsyncSession, tenant_id: str, minute: int, amount: int, limit: int) -> Any:
    insert = upsert_insert(session, _WINDOWS)
    added = _WINDOWS.c.used + insert.excluded.used
    return (
        insert.values(tenant_id=tenant_id, minute=minute, used=amount)
        .on_conflict_do_update(
            index_elements=[_WINDOWS.c.tenant_id, _WINDOWS.c.minute],
            set_={"used": added},
            where=added <= limit,
        )
        .returning(_WINDOWS.c.used)
    )


async def lease(session: AsyncSession, tenant_id: str, minute: int, amount: int, limit: int) -> int:
    """Take `amount` submissions of `tenant_id`'s `minute`, or one when fewer are left; how many
    were granted (0: the minute's limit is reached). `amount` is at most `limit`."""
    for asked in dict.fromkeys((amount, 1)):
        granted = (await session.execute(_lease_statement(session, tenant_id, minute, asked, limit))).first()
        if granted is not None:
            return asked
    return 0


async def purge_before(session: AsyncSession, minute: int) -> int:
    """Delete the counts of minutes before `minute`; how many rows went."""
    result = await session.execute(delete(_WINDOWS).where(_WINDOWS.c.minute < minute))
    return int(getattr(result, "rowcount", 0) or 0)
