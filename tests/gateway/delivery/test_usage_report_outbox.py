"""Licensor usage reports through the outbox against a fake BFL metering endpoint on loopback:
the API key comes from the settings, retries survive a restart, a crashed worker's claim lapses."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.delivery.http import OutboundPoster
from gateway.delivery.usage_reports import CredentialsError, OutboxWorker, parse_licensor_credentials
from registry.delivery.licensor_usage import UsageReportError, bfl_usage_url, enqueue_usage_report
from registry.delivery.outbox import claim_due, messages_for_job
from registry.delivery.retry import RetrySchedule
from registry.netguard import OutboundPolicy
from tests.support_delivery import FakeClock, migrated_sessions
from tests.support_loopback import LoopbackServer

FAST = RetrySchedule(delays_s=(10, 60), jitter=0)
CREDENTIALS = {"bfl": "bfl_test_key"}


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(sqlite_url) as factory:
        yield factory


@pytest.fixture
async def both_sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(database_url) as factory:
        yield factory


@pytest.fixture
async def bfl() -> AsyncIterator[LoopbackServer]:
    server = await LoopbackServer().start()
    yield server
    await server.stop()


def _policy(server: LoopbackServer) -> OutboundPolicy:
    return OutboundPolicy.from_settings(allow_http=True, allowlist=[f"127.0.0.1:{server.port}"])


async def _report(
    sessions: async_sessionmaker[AsyncSession], clock: FakeClock, base: str, job_id: str = "job_1"
) -> str:
    async with sessions() as session, session.begin():
        return await enqueue_usage_report(
            session,
            job_id=job_id,
            tenant_id="acme",
            model_slug="flux-2-dev",
            number_of_generations=3,
            now=clock(),
            base_url=base,
        )


async def test_a_report_retried_by_a_new_worker_after_a_restart_is_delivered_once(
    both_sessions: async_sessionmaker[AsyncSession], bfl: LoopbackServer
) -> None:
    async def down_once(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response({"detail": "unavailable"}, status=503 if n == 1 else 200)

    bfl.respond = down_once
    sessions = both_sessions
    clock = FakeClock()
    await _report(sessions, clock, bfl.base)
    async with OutboundPoster(_policy(bfl)) as poster:
        assert await OutboxWorker(sessions, poster, CREDENTIALS, schedule=FAST, clock=clock).run_once() == 1
    # the process ends here; a new one starts later with fresh objects
    clock.advance(seconds=10)
    async with OutboundPoster(_policy(bfl)) as poster:
        restarted = OutboxWorker(sessions, poster, CREDENTIALS, schedule=FAST, clock=clock)
        assert await restarted.run_once() == 1
        clock.advance(hours=2)
        assert await restarted.run_once() == 0
    assert len(bfl.received) == 2
    last = bfl.received[-1]
    assert last.path == "/v1/licenses/models/flux-2-dev/usage"
    assert last.headers["x-key"] == "bfl_test_key"
    assert json.loads(last.body) == {"number_of_generations": 3}
    async with sessions() as session:
        [state] = await messages_for_job(session, "job_1")
    assert [a.status_code for a in state.log] == [503, 200]
    assert state.delivered_at == clock.now - dt.timedelta(hours=2)


async def test_a_worker_that_died_after_claiming_leaves_the_report_to_the_next_one(
    sessions: async_sessionmaker[AsyncSession], bfl: LoopbackServer
) -> None:
    clock = FakeClock()
    await _report(sessions, clock, bfl.base)
    [_lost] = await claim_due(sessions, ["licensor_usage"], now=clock(), lease=dt.timedelta(seconds=60))
    async with OutboundPoster(_policy(bfl)) as poster:
        worker = OutboxWorker(sessions, poster, CREDENTIALS, schedule=FAST, clock=clock)
        assert await worker.run_once() == 0
        clock.advance(seconds=60)
        assert await worker.run_once() == 1
    assert len(bfl.received) == 1


async def test_without_a_configured_key_nothing_is_sent_and_the_report_waits(
    sessions: async_sessionmaker[AsyncSession], bfl: LoopbackServer
) -> None:
    clock = FakeClock()
    await _report(sessions, clock, bfl.base)
    async with OutboundPoster(_policy(bfl)) as poster:
        await OutboxWorker(sessions, poster, {}, schedule=FAST, clock=clock).run_once()
        async with sessions() as session:
            [state] = await messages_for_job(session, "job_1")
        assert state.last_error == "no API key configured for licensor 'bfl'"
        assert state.gave_up_at is None
        clock.advance(seconds=10)
        await OutboxWorker(sessions, poster, CREDENTIALS, schedule=FAST, clock=clock).run_once()
    assert [r.headers["x-key"] for r in bfl.received] == ["bfl_test_key"]


async def test_enqueueing_twice_for_one_job_reports_once(
    sessions: async_sessionmaker[AsyncSession], bfl: LoopbackServer
) -> None:
    clock = FakeClock()
    assert await _report(sessions, clock, bfl.base) == await _report(sessions, clock, bfl.base)


def test_bad_inputs_are_named() -> None:
    assert bfl_usage_url("flux-2-dev") == "https://api.bfl.ai/v1/licenses/models/flux-2-dev/usage"
    with pytest.raises(UsageReportError, match="slug"):
        bfl_usage_url("../admin")
    assert parse_licensor_credentials("bfl=abc, other=def") == {"bfl": "abc", "other": "def"}
    with pytest.raises(CredentialsError):
        parse_licensor_credentials("bfl")
