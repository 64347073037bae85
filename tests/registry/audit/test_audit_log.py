"""The appender: in the caller's transaction, in groups, with checkpoints by count and by time."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable

import pytest
from audit_samples import sample_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import (
    AppendedEvent,
    AuditLog,
    AuditLogClosedError,
    CheckpointSigner,
    NewEvent,
    append_in_session,
    verify_chain,
)
from registry.audit.hashing import PayloadEncodingError
from registry.db.engine import session_factory


async def _count(engine: AsyncEngine, table: str) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one())


async def test_events_appended_in_a_session_commit_or_roll_back_with_it(audit_engine: AsyncEngine) -> None:
    sessions = session_factory(audit_engine)
    async with sessions() as session, session.begin():
        first = await append_in_session(session, [sample_event(0), sample_event(1)])
    assert [event.seq for event in first] == [1, 2]
    async with sessions() as session:
        await append_in_session(session, [sample_event(2)])
        await session.rollback()  # e.g. the job row failed: the event goes with it
    async with AuditLog(audit_engine) as log:
        after = await log.append(sample_event(3))
    assert after.seq == 3  # the rolled-back append left no gap
    async with sessions() as session, session.begin():
        (last,) = await append_in_session(session, [sample_event(4)])
    assert last.seq == 4
    assert last.recorded_at >= after.recorded_at
    assert (await verify_chain(audit_engine, verifier=None)).ok


async def test_session_appends_and_the_group_appender_share_one_chain(audit_engine: AsyncEngine) -> None:
    sessions = session_factory(audit_engine)

    async def in_session(i: int) -> int:
        async with sessions() as session, session.begin():
            (event,) = await append_in_session(session, [sample_event(i)])
        return event.seq

    async with AuditLog(audit_engine) as log:
        seqs = await asyncio.gather(
            *(in_session(i) for i in range(20)), *(_seq(log.append(sample_event(i))) for i in range(200))
        )
    assert sorted(seqs) == list(range(1, 221))
    assert (await verify_chain(audit_engine, verifier=None)).ok


async def _seq(append: Awaitable[AppendedEvent]) -> int:
    return (await append).seq


async def test_checkpoints_every_n_events(audit_engine: AsyncEngine, signer: CheckpointSigner) -> None:
    async with AuditLog(audit_engine, signer=signer, checkpoint_every=10) as log:
        for i in range(35):
            await log.append(sample_event(i))
    async with audit_engine.connect() as connection:
        seqs = list(
            (await connection.execute(text("SELECT seq FROM audit_checkpoints ORDER BY id"))).scalars()
        )
    assert seqs == [10, 20, 30, 35]  # the last one signed on close
    assert (await verify_chain(audit_engine, verifier=signer)).checkpoints_checked == 4


async def test_checkpoint_after_an_interval_without_new_events(
    audit_engine: AsyncEngine, signer: CheckpointSigner
) -> None:
    async with AuditLog(audit_engine, signer=signer, checkpoint_interval_s=0.05) as log:
        await log.append(sample_event(0))
        for _ in range(200):
            if await _count(audit_engine, "audit_checkpoints"):
                break
            await asyncio.sleep(0.01)
        assert log.last_checkpoint is not None
        assert log.last_checkpoint.sequence == 1


async def test_a_bad_payload_fails_only_its_own_caller(audit_engine: AsyncEngine) -> None:
    async with AuditLog(audit_engine) as log:
        good = asyncio.ensure_future(log.append(sample_event(0)))
        with pytest.raises(PayloadEncodingError, match="non-finite"):
            await log.append(NewEvent(kind="test", payload={"price": float("nan")}))
        with pytest.raises(PayloadEncodingError, match="cannot be encoded"):
            await log.append(NewEvent(kind="test", payload={"when": object()}))
        assert (await good).seq == 1


async def test_appending_to_a_closed_log_is_refused(audit_engine: AsyncEngine) -> None:
    log = AuditLog(audit_engine)
    with pytest.raises(AuditLogClosedError):
        await log.append(sample_event(0))
    async with log:
        await log.append(sample_event(0))
    with pytest.raises(AuditLogClosedError):
        await log.append(sample_event(1))


async def test_time_never_runs_backwards_along_the_chain(audit_engine: AsyncEngine) -> None:
    late = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    async with AuditLog(audit_engine, clock=lambda: late) as log:
        await log.append(sample_event(0))
    async with AuditLog(audit_engine) as log:  # the real clock is behind the head
        event = await log.append(sample_event(1))
    assert event.recorded_at == late


async def test_appending_nothing_is_a_no_op(audit_engine: AsyncEngine) -> None:
    async with AuditLog(audit_engine) as log:
        assert await log.append_many([]) == []
        assert (await log.append(sample_event(0))).seq == 1


async def test_postgres_appender_recovers_after_its_connection_is_killed(postgres_url: str) -> None:
    from registry.db import migrate
    from registry.db.engine import create_engine

    migrate.upgrade(postgres_url)
    engine = create_engine(postgres_url)
    try:
        async with AuditLog(engine) as log:
            await log.append(sample_event(0))
            async with engine.connect() as connection:
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            # asyncpg words the failure differently depending on where the kill lands
            # ("terminating connection", "connection is closed", "cannot switch to state ...").
            with pytest.raises(Exception):  # noqa: B017, PT011
                await log.append(sample_event(1))
            assert (await log.append(sample_event(2))).seq == 2  # a fresh connection, no gap
        assert (await verify_chain(engine, verifier=None)).ok
    finally:
        await engine.dispose()
