"""The job writer's group commit: concurrent units of work share one transaction, each caller is
answered after the commit, their audit events extend one verifiable chain, and a unit that fails
(a quota without room) fails alone while the others of its batch commit."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable
from typing import cast

import pytest
from sqlalchemy import Table, func, make_url, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.audit import NewEvent
from registry.audit.tables import AuditEventRow
from registry.audit.verify import verify_chain
from registry.db import migrate
from registry.db.engine import create_engine, session_factory
from registry.db.inline_sqlite import create_inline_sqlite_engine
from registry.db.unreachable import database_unreachable
from registry.jobs import quota
from registry.jobs.tables import JobRow
from registry.jobs.writer import JobWriter, Transition, Work, WorkContext

MONTH = "2026-11"


@pytest.fixture
async def writer_sessions(engine: AsyncEngine) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The writer's sessions as the gateway makes them: on SQLite its own inline connection
    (the writer's statements then go straight to sqlite3), on PostgreSQL the shared pool."""
    if engine.dialect.name != "sqlite":
        yield session_factory(engine)
        return
    inline = create_inline_sqlite_engine(str(engine.url.database))
    try:
        yield session_factory(inline)
    finally:
        await inline.dispose()


def _unit(number: int, amount: int, limit: int | None) -> Work[int]:
    async def work(context: WorkContext) -> int:
        if limit is not None:
            await quota.reserve(context.session, {"agr-q": amount}, {"agr-q": limit}, MONTH)
        context.add_usage("agr-open", MONTH, amount)
        context.events.append(NewEvent(kind="test.unit", payload={"n": number}, job_id=f"job-{number}"))
        return number

    return work


async def test_concurrent_units_commit_together_and_a_failing_one_alone(
    engine: AsyncEngine, writer_sessions: async_sessionmaker[AsyncSession]
) -> None:
    writer = JobWriter(writer_sessions)
    try:
        # 10 units of 2 images on a quota of 9: four fit, whatever the batching.
        results = await asyncio.gather(
            *(writer.run(_unit(n, 2, 9)) for n in range(10)),
            return_exceptions=True,
        )
        # Without quotas nothing can fail: many units, few transactions.
        before = writer.batches
        await asyncio.gather(*(writer.run(_unit(n, 1, None)) for n in range(100, 140)))
        batches = writer.batches - before
    finally:
        await writer.close()
    ok = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, quota.QuotaExhaustedError)]
    assert len(ok) == 4
    assert len(refused) == 6
    assert batches < 40
    async with session_factory(engine)() as session:
        used = await quota.usage_of(session, ["agr-q", "agr-open"], MONTH)
        events = await session.scalar(select(func.count()).select_from(AuditEventRow))
    assert used == {"agr-q": 8, "agr-open": 8 + 40}  # refused units moved no counter
    assert events == 4 + 40  # and appended nothing
    report = await verify_chain(engine, verifier=None)
    assert report.ok, report.problem


async def test_a_unit_raising_fails_its_caller_only(
    engine: AsyncEngine, writer_sessions: async_sessionmaker[AsyncSession]
) -> None:
    writer = JobWriter(writer_sessions)

    async def broken(context: WorkContext) -> int:
        context.add_usage("agr-open", MONTH, 1)
        raise RuntimeError("bad unit")

    try:
        good = [writer.run(_unit(n, 1, None)) for n in range(5)]
        outcome = await asyncio.gather(*good, writer.run(broken), return_exceptions=True)
    finally:
        await writer.close()
    assert outcome[:5] == [0, 1, 2, 3, 4]
    assert isinstance(outcome[5], RuntimeError)
    async with session_factory(engine)() as session:
        assert await quota.usage_of(session, ["agr-open"], MONTH) == {"agr-open": 5}


async def test_on_sqlite_a_write_lock_held_too_long_fails_the_batch_as_a_database_error(
    sqlite_url: str,
) -> None:
    migrate.upgrade(sqlite_url)
    path = make_url(sqlite_url).database
    assert path is not None
    inline = create_inline_sqlite_engine(path, timeout_s=0.2)
    holder = create_engine(sqlite_url)
    writer = JobWriter(session_factory(inline))
    try:
        async with holder.connect() as connection:
            await connection.exec_driver_sql("BEGIN IMMEDIATE")
            with pytest.raises(OperationalError, match="locked"):
                await writer.run(_unit(1, 1, None))
            await connection.exec_driver_sql("ROLLBACK")
        assert await writer.run(_unit(2, 1, None)) == 2  # and the writer goes on once it is free
    finally:
        await writer.close()
        await inline.dispose()
        await holder.dispose()


def _job_values(job_id: str) -> dict[str, object]:
    now = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    return {
        "id": job_id,
        "tenant_id": "acme",
        "client_id": "client",
        "subject": "sub",
        "status": "running",
        "model_id": "model",
        "adapters": [{"id": "turbo", "scale": 1.0}],
        "runner_id": "runner",
        "decision_id": "dec",
        "decision": {"outcome": "allow", "reasons": ["é ✓"]},
        "purpose": "commercial",
        "output_use": "publish",
        "request": {"prompt": "a fox", "seed": 7},
        "task": {"steps": 8},
        "webhook": None,
        "reservations": {"agr-open": 1},
        "usage_month": MONTH,
        "num_images": 1,
        "images": 0,
        "cancel_requested": False,
        "created_at": now,
        "started_at": now,
    }


async def test_job_rows_and_transitions_written_directly_read_back_as_the_orm_wrote_them(
    engine: AsyncEngine, writer_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """The writer's own statements (straight to sqlite3 or asyncpg) store what the ORM would:
    JSON documents, aware datetimes; a transition takes effect once; a duplicate row fails its
    caller alone with SQLAlchemy's IntegrityError and the rest of the batch commits."""
    writer = JobWriter(writer_sessions)
    table = cast(Table, JobRow.__table__)
    finished = dt.datetime(2026, 11, 26, 12, 0, 3, tzinfo=dt.UTC)

    def admit(job_id: str) -> Work[str]:
        async def work(context: WorkContext) -> str:
            context.insert(table, _job_values(job_id))
            return job_id

        return work

    async def finish(context: WorkContext) -> bool:
        return context.won

    done = Transition("job-1", ("running",), {"status": "succeeded", "images": 1, "finished_at": finished})
    try:
        assert await writer.run(admit("job-1")) == "job-1"
        outcome = await asyncio.gather(
            writer.run(admit("job-1")), writer.run(admit("job-2")), return_exceptions=True
        )
        assert isinstance(outcome[0], IntegrityError)
        assert outcome[1] == "job-2"
        first, second = await asyncio.gather(
            writer.run(finish, transition=done), writer.run(finish, transition=done)
        )
    finally:
        await writer.close()
    assert (first, second) == (True, False)  # the second found it succeeded already
    async with session_factory(engine)() as session:
        rows = {row.id: row for row in (await session.scalars(select(JobRow))).all()}
    assert sorted(rows) == ["job-1", "job-2"]
    job = rows["job-1"]
    assert (job.status, job.images, job.finished_at) == ("succeeded", 1, finished)
    assert job.decision == {"outcome": "allow", "reasons": ["é ✓"]}
    assert job.adapters == [{"id": "turbo", "scale": 1.0}]
    assert job.webhook is None
    assert job.started_at == dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
    assert rows["job-2"].status == "running"


async def test_many_transitions_of_one_batch_each_take_effect_once(
    engine: AsyncEngine, writer_sessions: async_sessionmaker[AsyncSession]
) -> None:
    """Jobs finishing together (on PostgreSQL one statement per kind of transition): each unit
    learns whether its own transition won, a job that ended already is left as it was, and a job
    named twice in one batch sees its transitions in order."""
    writer = JobWriter(writer_sessions)
    table = cast(Table, JobRow.__table__)
    at = dt.datetime(2026, 11, 26, 12, 0, 5, tzinfo=dt.UTC)
    succeeded = {"status": "succeeded", "images": 1, "error": None, "finished_at": at, "cost_usd": 0.25}
    failed = {"status": "failed", "images": 0, "error": "provider said no", "finished_at": at}

    async def admit(context: WorkContext) -> None:
        for job_id in ("job-a", "job-b", "job-c", "job-d", "job-e", "job-f"):
            context.insert(table, _job_values(job_id))

    async def outcome(context: WorkContext) -> bool:
        return context.won

    def end(job_id: str, values: dict[str, object]) -> Awaitable[bool]:
        return writer.run(outcome, transition=Transition(job_id, ("queued", "running"), values))

    try:
        await writer.run(admit)
        assert await end("job-c", failed)  # ended before the batch below
        batches = writer.batches
        together = await asyncio.gather(
            end("job-a", succeeded),
            end("job-b", succeeded),
            end("job-c", succeeded),
            end("job-d", failed),
            end("job-e", failed),
        )
        assert writer.batches == batches + 1  # one batch, so the grouped statements ran
        twice = await asyncio.gather(end("job-f", succeeded), end("job-f", failed))
    finally:
        await writer.close()
    assert together == [True, True, False, True, True]
    assert twice == [True, False]
    async with session_factory(engine)() as session:
        rows = {row.id: row for row in (await session.scalars(select(JobRow))).all()}
    summary = {job_id: (row.status, row.images, row.error, row.cost_usd) for job_id, row in rows.items()}
    assert summary == {
        "job-a": ("succeeded", 1, None, 0.25),
        "job-b": ("succeeded", 1, None, 0.25),
        "job-c": ("failed", 0, "provider said no", None),
        "job-d": ("failed", 0, "provider said no", None),
        "job-e": ("failed", 0, "provider said no", None),
        "job-f": ("succeeded", 1, None, 0.25),
    }
    assert {rows[j].finished_at for j in rows} == {at}


async def test_on_postgresql_a_connection_the_server_closed_is_a_database_error_then_replaced(
    postgres_url: str,
) -> None:
    """The writer keeps its connection between batches. When PostgreSQL ends it meanwhile (a
    restart, a terminated backend), the next batch fails as SQLAlchemy's database error (which
    the API answers 503), and the batch after it connects afresh, not to another pooled
    connection the server closed too."""
    migrate.upgrade(postgres_url)
    engine = create_engine(postgres_url)
    writer = JobWriter(session_factory(engine))
    try:
        assert await writer.run(_unit(1, 1, None)) == 1
        idle = [await engine.connect() for _ in range(3)]  # the pool keeps these when they are back
        for connection in idle:
            await connection.close()
        database = make_url(postgres_url).database
        await _terminate_backends(postgres_url, database)
        with pytest.raises(DBAPIError) as raised:
            await writer.run(_unit(2, 1, None))
        assert database_unreachable(raised.value)
        assert await writer.run(_unit(3, 1, None)) == 3
    finally:
        await writer.close()
        await engine.dispose()


async def _terminate_backends(url: str, database: str | None) -> None:
    admin = create_engine(str(make_url(url).set(database="postgres")))
    try:
        async with admin.connect() as connection:
            await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": database},
            )
    finally:
        await admin.dispose()
