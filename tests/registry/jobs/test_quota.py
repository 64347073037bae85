"""Quota reservations are atomic: concurrent reservers on separate engines (as separate gateway
processes would be) never take more than the quota, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.db.engine import create_engine, session_factory
from registry.jobs import quota
from registry.jobs.tables import UsageCounterRow

MONTH = "2026-11"


async def _reserve(engine: AsyncEngine, amount: int, limit: int) -> bool:
    try:
        async with session_factory(engine)() as session, session.begin():
            await quota.reserve(session, {"agr-1": amount, "agr-open": amount}, {"agr-1": limit}, MONTH)
    except quota.QuotaExhaustedError:
        return False
    return True


async def test_concurrent_reservations_never_exceed_the_quota(migrated_url: str) -> None:
    engines = [create_engine(migrated_url) for _ in range(2)]
    try:
        results = await asyncio.gather(*(_reserve(engines[i % 2], 2, 9) for i in range(12)))
        async with session_factory(engines[0])() as session:
            used = await quota.usage_of(session, ["agr-1", "agr-open", "agr-none"], MONTH)
    finally:
        for engine in engines:
            await engine.dispose()
    assert sum(results) == 4  # 4 x 2 = 8 <= 9 < 10
    assert used == {"agr-1": 8, "agr-open": 8}  # a refused reservation moved no counter


async def test_release_gives_back_and_never_goes_below_zero(engine: AsyncEngine) -> None:
    async with session_factory(engine)() as session, session.begin():
        await quota.reserve(session, {"agr-1": 3}, {"agr-1": 3}, MONTH)
    with pytest.raises(quota.QuotaExhaustedError, match="no room for 1 more images"):
        async with session_factory(engine)() as session, session.begin():
            await quota.reserve(session, {"agr-1": 1}, {"agr-1": 3}, MONTH)
    async with session_factory(engine)() as session, session.begin():
        await quota.release(session, {"agr-1": 2}, MONTH)
        await quota.release(session, {"agr-1": 5}, MONTH)  # more than held: refused, not negative
    async with session_factory(engine)() as session:
        row = await session.get(UsageCounterRow, ("agr-1", MONTH))
    assert row is not None
    assert row.used == 1
