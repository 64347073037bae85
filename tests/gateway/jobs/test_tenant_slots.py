"""A tenant's concurrency limit holds across gateway processes: slots are leased from the
database in chunks, a process holding all of them keeps the others' jobs of that tenant
waiting, slots come back after the linger, and a dead process's slots are free after the job
lease."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.jobs.slots import TenantSlots, leased_through
from registry.db.engine import create_engine, session_factory
from registry.jobs import slots as slot_rows
from registry.jobs.tables import JobRow
from registry.jobs.writer import JobWriter
from tests.gateway.jobs.conftest import (
    HOBBY,
    LOCAL_SD,
    PROVIDER_FLUX2,
    Gateway,
    JobsWorld,
    flux2_job,
    open_gateway,
    sd_job,
)

LIMIT = 3
LEASE_S = 15.0
T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.at = T0

    def __call__(self) -> dt.datetime:
        return self.at


def _process(
    engine: AsyncEngine, owner: str, clock: Callable[[], dt.datetime]
) -> tuple[JobWriter, TenantSlots]:
    writer = JobWriter(session_factory(engine))
    slots = leased_through(writer, owner, LIMIT, lease_s=LEASE_S, now=clock)
    slots.chunk = 2
    slots.linger_s = 0.0  # a free slot goes back at the first `release_idle`
    return writer, slots


@pytest.fixture
async def processes(engine: AsyncEngine) -> AsyncIterator[tuple[TenantSlots, TenantSlots, Clock]]:
    """Two gateway processes' slots on one database (each with its own job writer)."""
    clock = Clock()
    (first_writer, first), (second_writer, second) = (_process(engine, o, clock) for o in ("gw_a", "gw_b"))
    try:
        yield first, second, clock
    finally:
        for writer in (first_writer, second_writer):
            await writer.close()


async def _held(engine: AsyncEngine, tenant: str = "acme") -> dict[str, int]:
    async with session_factory(engine)() as session:
        return await slot_rows.held_by(session, tenant)


async def test_the_limit_holds_summed_over_processes(
    engine: AsyncEngine, processes: tuple[TenantSlots, TenantSlots, Clock]
) -> None:
    first, second, _ = processes
    assert await first.take("acme")  # leases a chunk of 2
    assert await second.take("acme")  # 1 left: leased alone
    assert await _held(engine) == {"gw_a": 2, "gw_b": 1}
    assert not await second.take("acme")  # the limit is held between them
    assert await first.take("acme")  # its own chunk's second slot
    assert not await first.take("acme")
    assert await second.take("globex")  # another tenant never waits
    assert await _held(engine) == {"gw_a": 2, "gw_b": 1}

    first.give("acme")
    assert not await second.take("acme")  # free in the first process, not yet given back
    await first.release_idle()
    assert await _held(engine) == {"gw_a": 1, "gw_b": 1}
    assert await second.take("acme")
    assert await _held(engine) == {"gw_a": 1, "gw_b": 2}
    assert not first.take_now("acme")
    assert not second.take_now("acme")


async def test_concurrent_takes_of_one_process_get_exactly_the_limit(
    engine: AsyncEngine, processes: tuple[TenantSlots, TenantSlots, Clock]
) -> None:
    first, _, _ = processes
    taken = await asyncio.gather(*(first.take("acme") for _ in range(10)))
    assert sum(taken) == LIMIT
    assert await _held(engine) == {"gw_a": LIMIT}


async def test_concurrent_takes_of_two_processes_and_two_tenants_get_exactly_the_limit(
    engine: AsyncEngine, processes: tuple[TenantSlots, TenantSlots, Clock]
) -> None:
    first, second, _ = processes
    asked = [(first, "acme"), (second, "globex"), (second, "acme"), (first, "globex")] * 5
    taken = await asyncio.gather(*(slots.take(tenant) for slots, tenant in asked))
    for tenant in ("acme", "globex"):
        assert sum(ok for ok, (_, t) in zip(taken, asked, strict=True) if t == tenant) == LIMIT
        assert sum((await _held(engine, tenant)).values()) == LIMIT


async def test_a_dead_process_slots_are_free_after_the_job_lease(
    engine: AsyncEngine, processes: tuple[TenantSlots, TenantSlots, Clock]
) -> None:
    first, second, clock = processes
    for _ in range(LIMIT):
        assert await first.take("acme")
    assert not await second.take("acme")
    clock.at = T0 + dt.timedelta(seconds=LEASE_S + 1)  # the first process stopped renewing
    assert await second.take("acme")
    assert await _held(engine) == {"gw_a": LIMIT, "gw_b": 2}
    async with session_factory(engine)() as session, session.begin():
        assert await slot_rows.purge_stale(session, clock.at - dt.timedelta(seconds=LEASE_S)) == 1
    assert await _held(engine) == {"gw_b": 2}


async def test_a_renewal_writes_back_a_purged_row(
    engine: AsyncEngine, processes: tuple[TenantSlots, TenantSlots, Clock]
) -> None:
    first, _, _ = processes
    assert await first.take("acme")
    async with session_factory(engine)() as session, session.begin():
        await slot_rows.purge_stale(session, T0 + dt.timedelta(seconds=1))
    assert await _held(engine) == {}
    await first.renew()
    assert await _held(engine) == {"gw_a": 2}


async def test_a_row_the_process_does_not_account_for_stops_holding_the_tenant(
    engine: AsyncEngine, processes: tuple[TenantSlots, TenantSlots, Clock]
) -> None:
    """A renewal that read what the process held just before a release removed the row writes it
    back: a row of slots the process no longer has. Its later renewals must not keep that row
    alive, or the tenant's slots stay taken for ever (seen as a job of the tenant queued in
    another gateway that never started)."""
    first, second, clock = processes
    assert await first.take("acme")  # a chunk of 2, one used
    alive, kept = first.renewal()  # read before the release ...
    first.give("acme")
    await first.release_idle()  # ... which deletes the row
    assert await _held(engine) == {}
    async with session_factory(engine)() as session, session.begin():
        await slot_rows.renew(session, "gw_a", alive, kept, now=clock.at)  # ... then written back
    assert await _held(engine) == {"gw_a": 2}
    assert await second.take("acme")
    assert not await second.take("acme")  # the row written back holds the other 2 of 3
    second.give("acme")
    await second.release_idle()
    assert await first.take("globex")  # busy with another tenant: it renews rows
    for seconds in (5, 10, 15, 20):  # the first process renews every 5 s as the lease runs out
        clock.at = T0 + dt.timedelta(seconds=seconds)
        await first.renew()
    clock.at = T0 + dt.timedelta(seconds=LEASE_S + 1)
    taken = [await second.take("acme") for _ in range(LIMIT)]
    assert taken.count(True) == LIMIT, await _held(engine)  # the stale row no longer counts


async def test_renewals_racing_releases_write_back_nothing(
    engine: AsyncEngine, processes: tuple[TenantSlots, TenantSlots, Clock]
) -> None:
    first, second, _ = processes
    for _ in range(20):
        assert await first.take("acme")
        first.give("acme")
        await asyncio.gather(first.renew(), first.release_idle(), first.renew())
        assert await _held(engine) == {}, "a renewal wrote back a row a release removed"
    assert all([await second.take("acme") for _ in range(LIMIT)])


async def test_a_tenant_at_its_limit_in_one_gateway_waits_in_another(
    jobs_world: JobsWorld, tmp_path: Path, jobs_database: str
) -> None:
    """One slot for the tenant: while a job of it runs in the first gateway (held at the
    provider), the second gateway writes the tenant's jobs queued (even one whose submitter
    waits, on an idle runner), runs another tenant's, and starts the waiting ones one at a time
    after the first ended."""
    url = jobs_database
    provider = jobs_world.provider
    async with (
        open_gateway(jobs_world, tmp_path / "a", url, job_concurrency=1) as first,
        open_gateway(jobs_world, tmp_path / "b", url, job_concurrency=1) as second,
    ):
        provider.gate.clear()
        try:
            held = (await first.submit(flux2_job(), tenant=HOBBY)).json()
            assert held["runner"] == PROVIDER_FLUX2
            await first.wait_for(held["id"], "running", tenant=HOBBY)
            # The runner is idle, but no slot: the waiting submitter's job is written queued.
            waited = await second.submit(sd_job(steps=2), tenant=HOBBY, Prefer="wait=1")
            assert waited.status_code == 202
            assert (waited.json()["runner"], waited.json()["status"]) == (LOCAL_SD, "queued")
            waiting = (await second.submit(sd_job(steps=2), tenant=HOBBY)).json()
            other = (await second.submit(sd_job(steps=2), Prefer="wait=60")).json()
            assert other["status"] == "succeeded", other  # another tenant, same runner
            await asyncio.sleep(1.0)  # two of the second gateway's retries
            still = (await second.get(f"/v1/jobs/{waiting['id']}", tenant=HOBBY)).json()
            assert still["status"] == "queued", still
        finally:
            provider.gate.set()
        try:
            ended = await first.wait_for(held["id"], tenant=HOBBY)
            done = await second.wait_for(waiting["id"], tenant=HOBBY)
            later = await second.wait_for(waited.json()["id"], tenant=HOBBY)
        except AssertionError as stalled:  # seen once in a CI run, never since: say where it stood
            raise AssertionError(
                f"{stalled}\nfirst: {_executor_state(first)}\nsecond: {_executor_state(second)}\n"
                f"database: {await _database_state(jobs_database)}"
            ) from stalled
    assert ended["status"] == done["status"] == later["status"] == "succeeded"
    assert _at(done, "started_at") >= _at(ended, "finished_at")
    # one slot: the two waiting jobs ran one after the other
    before, after = sorted((done, later), key=lambda job: _at(job, "started_at"))
    assert _at(after, "started_at") >= _at(before, "finished_at")


RUNNERS = (LOCAL_SD, PROVIDER_FLUX2)


def _executor_state(gateway: Gateway) -> dict[str, Any]:
    """What decides whether a queued job starts: the lanes, the runners' load and the slots."""
    executor = gateway.jobs.executor
    assert executor is not None
    return {
        "lanes": {r: [(i.job_id, i.tenant_id, i.slot) for i in lane] for r, lane in executor._lanes.items()},
        "running": list(executor._running),
        "runners": {
            r: (p.running, p.capacity, p.paused)
            for r in (LOCAL_SD, PROVIDER_FLUX2)
            if (p := gateway.pool.get(r))
        },
        "slots": {t: (h.held, h.used, h.refused_at, h.leasing) for t, h in executor.slots._tenants.items()},
        "unreleased": executor.slots._unreleased,
        "leasing": executor._leasing,
        "retry_pump": executor._retry_pump,
        "release_later": executor._release_later,
        "background": len(executor._background),
    }


async def _database_state(url: str) -> dict[str, Any]:
    """The tenant's slot rows, and its jobs' status, owner and heartbeat."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            jobs = await session.execute(
                select(JobRow.id, JobRow.status, JobRow.owner, JobRow.heartbeat_at).where(
                    JobRow.tenant_id == HOBBY
                )
            )
            return {"slots": await slot_rows.held_by(session, HOBBY), "jobs": [tuple(job) for job in jobs]}
    finally:
        await engine.dispose()


def _at(job: dict[str, Any], field: str) -> dt.datetime:
    return dt.datetime.fromisoformat(job[field])


async def test_releases_at_once_give_each_free_slot_back_once(
    engine: AsyncEngine, processes: tuple[TenantSlots, TenantSlots, Clock]
) -> None:
    """The release timer and the maintenance loop may both give slots back at the same moment."""
    first, second, _ = processes
    for _ in range(LIMIT):
        assert await first.take("acme")
    assert await _held(engine) == {"gw_a": LIMIT}
    first.give("acme")
    await asyncio.gather(first.release_idle(), first.release_idle())
    assert await _held(engine) == {"gw_a": LIMIT - 1}  # one slot back, not two: two still run
    assert await second.take("acme")
    assert not await second.take("acme")
