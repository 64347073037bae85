"""Idempotency keys on real SQLite and PostgreSQL: replay, mismatch, concurrent duplicates, expiry."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.delivery.idempotency import (
    Conflict,
    IdempotencyKeyError,
    IdempotencyStore,
    Mismatch,
    Replay,
    Started,
    check_idempotency_key,
    hash_request_body,
)
from tests.support_delivery import migrated_sessions

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
BODY = hash_request_body(b'{"model": "flux", "prompt": "a fox"}')
OTHER = hash_request_body(b'{"model": "flux", "prompt": "a cat"}')


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(sqlite_url) as factory:
        yield factory


@pytest.fixture
async def both_sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """On SQLite and on PostgreSQL, for the semantics that depend on the database."""
    async with migrated_sessions(database_url) as factory:
        yield factory


async def test_same_key_and_body_replays_the_first_response(
    both_sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = IdempotencyStore(both_sessions)
    assert await store.begin("t1", "key-1", BODY, now=NOW) == Started()
    await store.complete("t1", "key-1", status=202, body=b'{"id":"job_1"}', now=NOW, resource_id="job_1")
    again = await store.begin("t1", "key-1", BODY, now=NOW + dt.timedelta(minutes=5))
    assert again == Replay(
        status=202, body=b'{"id":"job_1"}', content_type="application/json", resource_id="job_1"
    )


async def test_same_key_with_another_body_is_a_mismatch(
    both_sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = IdempotencyStore(both_sessions)
    await store.begin("t1", "key-1", BODY, now=NOW)
    assert await store.begin("t1", "key-1", OTHER, now=NOW) == Mismatch()
    await store.complete("t1", "key-1", status=202, body=b"{}", now=NOW)
    assert await store.begin("t1", "key-1", OTHER, now=NOW) == Mismatch()


async def test_concurrent_duplicates_get_one_start_and_conflicts(
    both_sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = IdempotencyStore(both_sessions)
    results = await asyncio.gather(*(store.begin("t1", "same", BODY, now=NOW) for _ in range(6)))
    assert results.count(Started()) == 1
    assert results.count(Conflict()) == 5


async def test_keys_are_scoped_per_tenant(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = IdempotencyStore(sessions)
    assert await store.begin("t1", "k", BODY, now=NOW) == Started()
    assert await store.begin("t2", "k", OTHER, now=NOW) == Started()


async def test_keys_expire_after_24_hours_and_are_purged(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = IdempotencyStore(sessions)
    await store.begin("t1", "old", BODY, now=NOW)
    await store.complete("t1", "old", status=202, body=b"{}", now=NOW)
    await store.begin("t1", "new", BODY, now=NOW + dt.timedelta(hours=20))
    later = NOW + dt.timedelta(hours=24, seconds=1)
    assert await store.purge(now=later) == 1
    assert await store.lookup("t1", "old") is None
    assert await store.lookup("t1", "new") is not None
    assert await store.begin("t1", "old", OTHER, now=later) == Started()


async def test_an_expired_key_is_reusable_even_before_the_purge(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = IdempotencyStore(sessions)
    await store.begin("t1", "k", BODY, now=NOW)
    await store.complete("t1", "k", status=202, body=b"{}", now=NOW)
    assert await store.begin("t1", "k", OTHER, now=NOW + dt.timedelta(hours=25)) == Started()


async def test_a_key_left_in_progress_by_a_crash_can_be_taken_over(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    store = IdempotencyStore(sessions, stale_after=dt.timedelta(minutes=10))
    await store.begin("t1", "k", BODY, now=NOW)
    assert await store.begin("t1", "k", BODY, now=NOW + dt.timedelta(minutes=5)) == Conflict()
    assert await store.begin("t1", "k", BODY, now=NOW + dt.timedelta(minutes=11)) == Started()


async def test_complete_joins_the_callers_transaction(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = IdempotencyStore(sessions)
    await store.begin("t1", "k", BODY, now=NOW)
    async with sessions() as session, session.begin():
        await store.complete("t1", "k", status=202, body=b"a", now=NOW, session=session)
        await session.rollback()
    assert await store.begin("t1", "k", BODY, now=NOW) == Conflict()
    async with sessions() as session, session.begin():
        await store.complete("t1", "k", status=202, body=b"b", now=NOW, session=session)
    result = await store.begin("t1", "k", BODY, now=NOW)
    assert isinstance(result, Replay)
    assert result.body == b"b"


async def test_abandon_lets_a_retry_start_again(sessions: async_sessionmaker[AsyncSession]) -> None:
    store = IdempotencyStore(sessions)
    await store.begin("t1", "k", BODY, now=NOW)
    await store.abandon("t1", "k")
    assert await store.begin("t1", "k", BODY, now=NOW) == Started()


@pytest.mark.parametrize("key", ["", "with space", "x" * 256, "caf\u00e9"])
def test_unusable_keys_are_refused(key: str) -> None:
    with pytest.raises(IdempotencyKeyError):
        check_idempotency_key(key)
