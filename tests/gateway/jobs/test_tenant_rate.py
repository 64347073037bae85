"""A tenant's submissions per minute, counted in the database: the limit holds summed over
gateway processes (each with its own limiter and job writer, as separate processes have), a
process leases chunks, and a refusal says when the next minute starts."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.jobs.limits import TenantRateLimiter
from gateway.jobs.runtime import _lease_rate
from registry.db.engine import create_engine, session_factory
from registry.jobs import rate
from registry.jobs.tables import TenantRateWindowRow
from registry.jobs.writer import JobWriter
from tests.gateway.jobs.conftest import JobsWorld, open_gateway, sd_job

LIMIT = 10
MINUTE = 29_000_000  # minutes since the epoch: 2025-02-19
AT = MINUTE * 60 + 15.5


@pytest.fixture
async def processes(engine: AsyncEngine) -> AsyncIterator[list[TenantRateLimiter]]:
    """Two gateway processes' limiters on one database, chunks of 3."""
    writers = [JobWriter(session_factory(engine)) for _ in range(2)]
    try:
        leases = [functools.partial(_lease_rate, writer, lambda _tenant: LIMIT) for writer in writers]
        yield [TenantRateLimiter(LIMIT, lease, chunk=3) for lease in leases]
    finally:
        for writer in writers:
            await writer.close()


async def _used(engine: AsyncEngine) -> dict[tuple[str, int], int]:
    async with session_factory(engine)() as session:
        rows = (await session.execute(select(TenantRateWindowRow))).scalars().all()
    return {(row.tenant_id, row.minute): row.used for row in rows}


async def test_the_limit_holds_summed_over_processes(
    engine: AsyncEngine, processes: list[TenantRateLimiter]
) -> None:
    first, second = processes
    answers = [await (first if n % 2 == 0 else second).take("acme", now=AT + n) for n in range(20)]
    allowed = [n for n, answer in enumerate(answers) if answer is None]
    # chunks of 3 until 9 are leased, then the last one alone: exactly the limit, none more
    assert len(allowed) == LIMIT
    assert allowed == [0, 1, 2, 3, 4, 5, 6, 7, 8, 10]
    refused = answers[19]
    assert refused == pytest.approx((MINUTE + 1) * 60 - (AT + 19))  # seconds until the next minute
    assert await _used(engine) == {("acme", MINUTE): LIMIT}

    assert await second.take("acme", now=(MINUTE + 1) * 60) is None  # a new minute
    assert await first.take("globex", now=AT) is None  # another tenant never waited
    assert await _used(engine) == {("acme", MINUTE): LIMIT, ("acme", MINUTE + 1): 3, ("globex", MINUTE): 3}


async def test_concurrent_submissions_of_one_process_lease_one_chunk_at_a_time(
    engine: AsyncEngine, processes: list[TenantRateLimiter]
) -> None:
    answers = await asyncio.gather(*(processes[0].take("acme", now=AT) for _ in range(30)))
    assert sum(answer is None for answer in answers) == LIMIT
    assert await _used(engine) == {("acme", MINUTE): LIMIT}


async def test_the_counts_of_past_minutes_are_purged(
    engine: AsyncEngine, processes: list[TenantRateLimiter]
) -> None:
    for minute in (MINUTE - 2, MINUTE - 1, MINUTE):
        assert await processes[0].take("acme", now=minute * 60) is None
    async with session_factory(engine)() as session, session.begin():
        assert await rate.purge_before(session, MINUTE) == 2
    assert await _used(engine) == {("acme", MINUTE): 3}


async def test_a_rate_that_cannot_be_counted_answers_503_and_admits_nothing(
    jobs_world: JobsWorld, tmp_path: Path
) -> None:
    async with open_gateway(jobs_world, tmp_path) as gateway:
        headers = await gateway.headers()  # the token first: it needs the database too
        engine = create_engine(gateway.settings.database_url)
        async with engine.begin() as connection:
            await connection.execute(text("DROP TABLE tenant_rate_windows"))
        await engine.dispose()
        refused = await gateway.http.post("/v1/jobs", json=sd_job(), headers=headers)
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"] == "urn:clearance:problem:database-unavailable"
        assert int(refused.headers["retry-after"]) >= 1
        assert (await gateway.get("/v1/jobs")).json()["items"] == []
