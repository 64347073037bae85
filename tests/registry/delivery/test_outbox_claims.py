"""The outbox on real SQLite and PostgreSQL: claims never overlap, leases expire, retries follow
the schedule, and the delivery log records every attempt."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.delivery.outbox import (
    AttemptResult,
    NewMessage,
    claim_due,
    enqueue,
    message_state,
    messages_for_job,
    record_attempt,
)
from registry.delivery.retry import RetrySchedule, RetryScheduleError
from tests.support_delivery import migrated_sessions

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
SCHEDULE = RetrySchedule(delays_s=(5, 300, 1800), jitter=0)


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(sqlite_url) as factory:
        yield factory


@pytest.fixture
async def both_sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(database_url) as factory:
        yield factory


async def _enqueue(sessions: async_sessionmaker[AsyncSession], count: int, **fields: str) -> list[str]:
    async with sessions() as session, session.begin():
        return [
            await enqueue(
                session,
                NewMessage(kind="test", target_url=f"https://hooks.example.com/{i}", payload="{}", **fields),
                now=NOW,
            )
            for i in range(count)
        ]


async def test_concurrent_claimers_never_get_the_same_message(
    both_sessions: async_sessionmaker[AsyncSession],
) -> None:
    ids = await _enqueue(both_sessions, 12)
    batches = await asyncio.gather(*(claim_due(both_sessions, ["test"], now=NOW, limit=5) for _ in range(4)))
    claimed = [message.id for batch in batches for message in batch]
    assert sorted(claimed) == sorted(ids)
    assert await claim_due(both_sessions, ["test"], now=NOW) == []


async def test_a_failed_attempt_is_retried_on_schedule_then_given_up(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    [message_id] = await _enqueue(sessions, 1, job_id="job_1")
    now = NOW
    for attempt, wait in [(1, 5), (2, 300), (3, 1800)]:
        [message] = await claim_due(sessions, ["test"], now=now)
        assert message.attempt == attempt
        await record_attempt(
            sessions, message, AttemptResult(status_code=500, error="HTTP 500"), now=now, schedule=SCHEDULE
        )
        assert await claim_due(sessions, ["test"], now=now + dt.timedelta(seconds=wait - 1)) == []
        now += dt.timedelta(seconds=wait)
    [message] = await claim_due(sessions, ["test"], now=now)
    await record_attempt(sessions, message, AttemptResult(error="timed out"), now=now, schedule=SCHEDULE)
    async with sessions() as session:
        state = await message_state(session, message_id)
    assert state is not None
    assert state.gave_up_at == now
    assert state.next_attempt_at is None
    assert state.attempts == 4
    assert [(a.attempt, a.status_code, a.error) for a in state.log] == [
        (1, 500, "HTTP 500"),
        (2, 500, "HTTP 500"),
        (3, 500, "HTTP 500"),
        (4, None, "timed out"),
    ]
    assert await claim_due(sessions, ["test"], now=now + dt.timedelta(days=30)) == []


async def test_delivery_ends_the_retries_and_shows_in_the_job_log(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _enqueue(sessions, 1, job_id="job_1")
    [message] = await claim_due(sessions, ["test"], now=NOW)
    assert await record_attempt(sessions, message, AttemptResult(status_code=204), now=NOW, schedule=SCHEDULE)
    async with sessions() as session:
        [state] = await messages_for_job(session, "job_1")
    assert state.delivered_at == NOW
    assert state.last_status == 204
    assert await claim_due(sessions, ["test"], now=NOW + dt.timedelta(days=1)) == []


async def test_a_permanent_refusal_gives_up_at_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    [message_id] = await _enqueue(sessions, 1)
    [message] = await claim_due(sessions, ["test"], now=NOW)
    refused = AttemptResult(error="refused: loopback", permanent=True)
    await record_attempt(sessions, message, refused, now=NOW, schedule=SCHEDULE)
    async with sessions() as session:
        state = await message_state(session, message_id)
    assert state is not None
    assert state.gave_up_at == NOW


async def test_a_lost_lease_makes_the_message_due_again_and_ignores_the_late_result(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    lease = dt.timedelta(seconds=60)
    [message_id] = await _enqueue(sessions, 1)
    [first] = await claim_due(sessions, ["test"], now=NOW, lease=lease)
    assert await claim_due(sessions, ["test"], now=NOW + dt.timedelta(seconds=59), lease=lease) == []
    [second] = await claim_due(sessions, ["test"], now=NOW + lease, lease=lease)
    assert second.id == first.id
    assert second.attempt == first.attempt == 1
    late = await record_attempt(
        sessions, first, AttemptResult(status_code=204), now=NOW + lease, schedule=SCHEDULE
    )
    assert late is False
    assert await record_attempt(
        sessions, second, AttemptResult(status_code=204), now=NOW + lease, schedule=SCHEDULE
    )
    async with sessions() as session:
        state = await message_state(session, message_id)
    assert state is not None
    assert state.delivered_at == NOW + lease
    assert len(state.log) == 2


async def test_claims_only_take_the_kinds_asked_for(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _enqueue(sessions, 2)
    assert await claim_due(sessions, ["webhook"], now=NOW) == []
    assert len(await claim_due(sessions, ["webhook", "test"], now=NOW)) == 2


async def test_a_dedupe_key_enqueues_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    first = await _enqueue(sessions, 1, dedupe_key="usage:job_1")
    second = await _enqueue(sessions, 1, dedupe_key="usage:job_1")
    assert first == second


def test_the_default_schedule_spans_more_than_a_day_with_jitter() -> None:
    schedule = RetrySchedule()
    total = sum(schedule.delays_s)
    assert total > 24 * 3600
    assert schedule.max_attempts == 8
    delays = {schedule.next_attempt_after(3, NOW) for _ in range(20)}
    assert len(delays) > 1
    assert all(NOW + dt.timedelta(minutes=24) <= d <= NOW + dt.timedelta(minutes=36) for d in delays if d)
    assert schedule.next_attempt_after(8, NOW) is None


def test_a_bad_schedule_setting_is_named() -> None:
    assert RetrySchedule.parse("0.1, 0.2").delays_s == (0.1, 0.2)
    with pytest.raises(RetryScheduleError, match="'5,x'"):
        RetrySchedule.parse("5,x")
    with pytest.raises(RetryScheduleError, match="negative"):
        RetrySchedule(delays_s=(-1,))
