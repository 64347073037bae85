"""Webhooks end to end on loopback: signatures checked by a receiver (the `standardwebhooks`
reference library and an independent check), retries with backoff, filters, the SSRF guard."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks import Webhook

from gateway.delivery.http import OutboundPoster
from gateway.webhooks import WebhookDispatcher, WebhookSubscription, enqueue_webhook
from gateway.webhooks.events import WebhookFilterError
from registry.delivery.outbox import messages_for_job
from registry.delivery.retry import RetrySchedule
from registry.delivery.webhook_secrets import get_or_create_webhook_secret, rotate_webhook_secret
from registry.netguard import OutboundPolicy, UnsafeUrlError
from tests.support_delivery import FakeClock, migrated_sessions
from tests.support_loopback import LoopbackServer, Received

FAST = RetrySchedule(delays_s=(1, 2, 4), jitter=0)


@pytest.fixture
async def sessions(sqlite_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(sqlite_url) as factory:
        yield factory


@pytest.fixture
async def receiver() -> AsyncIterator[LoopbackServer]:
    server = await LoopbackServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def canary() -> AsyncIterator[LoopbackServer]:
    server = await LoopbackServer().start()
    yield server
    await server.stop()


def independent_verify(secret: str, received: Received) -> bool:
    """A second, separate reading of the spec: the receiver's own check."""
    key = base64.b64decode(secret.split("_", 1)[1])
    msg_id = received.headers["webhook-id"]
    stamp = received.headers["webhook-timestamp"]
    expected = base64.b64encode(
        hmac.new(key, f"{msg_id}.{stamp}.".encode() + received.body, hashlib.sha256).digest()
    ).decode()
    offered = [
        s.split(",", 1)[1] for s in received.headers["webhook-signature"].split(" ") if s.startswith("v1,")
    ]
    return any(hmac.compare_digest(expected, s) for s in offered)


async def _enqueue(
    sessions: async_sessionmaker[AsyncSession],
    clock: FakeClock,
    url: str,
    *,
    job_id: str = "job_1",
    event_type: str = "job.succeeded",
    events: tuple[str, ...] | None = None,
) -> str | None:
    async with sessions() as session, session.begin():
        return await enqueue_webhook(
            session,
            WebhookSubscription(url=url, events=events),
            tenant_id="acme",
            job_id=job_id,
            event_type=event_type,
            data={"id": job_id, "status": event_type.removeprefix("job.")},
            now=clock(),
        )


def _policy(receiver: LoopbackServer) -> OutboundPolicy:
    return OutboundPolicy.from_settings(allow_http=True, allowlist=[f"127.0.0.1:{receiver.port}"])


async def test_a_delivered_webhook_verifies_with_the_reference_library_and_independently(
    sessions: async_sessionmaker[AsyncSession], receiver: LoopbackServer
) -> None:
    clock = FakeClock(dt.datetime.now(dt.UTC))  # the reference library checks the timestamp's age
    await _enqueue(sessions, clock, f"{receiver.base}/hooks/clearance")
    async with OutboundPoster(_policy(receiver)) as poster:
        dispatcher = WebhookDispatcher(sessions, poster, schedule=FAST, clock=clock)
        assert await dispatcher.run_once() == 1
    [received] = receiver.received
    secret = await get_or_create_webhook_secret(sessions, "acme", now=clock())
    assert secret.startswith("whsec_")
    payload = Webhook(secret).verify(received.body, received.headers)
    assert payload["type"] == "job.succeeded"
    assert payload["data"] == {"id": "job_1", "status": "succeeded"}
    assert independent_verify(secret, received)
    assert received.headers["Content-Type"] == "application/json"
    assert received.path == "/hooks/clearance"


async def test_a_failing_receiver_gets_retries_with_backoff_and_the_log_shows_each_attempt(
    sessions: async_sessionmaker[AsyncSession], receiver: LoopbackServer
) -> None:
    async def fail_twice(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=503 if n <= 2 else 200, body=b"x" * 100_000)

    receiver.respond = fail_twice
    clock = FakeClock()
    await _enqueue(sessions, clock, f"{receiver.base}/hook")
    async with OutboundPoster(_policy(receiver)) as poster:
        dispatcher = WebhookDispatcher(sessions, poster, schedule=FAST, clock=clock)
        assert await dispatcher.run_once() == 1
        assert await dispatcher.run_once() == 0  # not due before the first delay
        clock.advance(seconds=1)
        assert await dispatcher.run_once() == 1
        clock.advance(seconds=1)
        assert await dispatcher.run_once() == 0
        clock.advance(seconds=1)
        assert await dispatcher.run_once() == 1
        clock.advance(days=1)
        assert await dispatcher.run_once() == 0
    async with sessions() as session:
        [state] = await messages_for_job(session, "job_1")
    assert [(a.attempt, a.status_code) for a in state.log] == [(1, 503), (2, 503), (3, 200)]
    assert state.delivered_at is not None
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {state.id}
    secret = await get_or_create_webhook_secret(sessions, "acme", now=clock())
    assert all(independent_verify(secret, r) for r in receiver.received)


async def test_a_rotated_secret_signs_the_next_attempts(
    sessions: async_sessionmaker[AsyncSession], receiver: LoopbackServer
) -> None:
    clock = FakeClock()
    old = await get_or_create_webhook_secret(sessions, "acme", now=clock())
    async with sessions() as session, session.begin():
        new, before = await rotate_webhook_secret(session, "acme", now=clock())
    assert before is not None
    assert old != new.secret
    await _enqueue(sessions, clock, f"{receiver.base}/hook")
    async with OutboundPoster(_policy(receiver)) as poster:
        await WebhookDispatcher(sessions, poster, clock=clock).run_once()
    [received] = receiver.received
    assert independent_verify(new.secret, received)
    assert not independent_verify(old, received)


async def test_a_rotation_with_a_grace_signs_with_both_secrets_until_it_ends(
    sessions: async_sessionmaker[AsyncSession], receiver: LoopbackServer
) -> None:
    clock = FakeClock()
    old = await get_or_create_webhook_secret(sessions, "acme", now=clock())
    async with sessions() as session, session.begin():
        new, _ = await rotate_webhook_secret(session, "acme", now=clock(), grace=dt.timedelta(hours=1))
    assert new.previous_until == clock() + dt.timedelta(hours=1)
    async with OutboundPoster(_policy(receiver)) as poster:
        await _enqueue(sessions, clock, f"{receiver.base}/during")
        await WebhookDispatcher(sessions, poster, clock=clock).run_once()
        clock.advance(hours=1)
        await _enqueue(sessions, clock, f"{receiver.base}/after", job_id="job_2")
        await WebhookDispatcher(sessions, poster, clock=clock).run_once()
    during, after = receiver.received
    assert len(during.headers["webhook-signature"].split()) == 2
    assert independent_verify(old, during)
    assert independent_verify(new.secret, during)
    assert len(after.headers["webhook-signature"].split()) == 1
    assert independent_verify(new.secret, after)
    assert not independent_verify(old, after)


async def test_the_event_filter_drops_unwanted_events(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = FakeClock()
    url = "https://hooks.example.com/x"
    assert await _enqueue(sessions, clock, url, event_type="job.started") is None  # default: terminal only
    assert await _enqueue(sessions, clock, url, event_type="job.succeeded", events=("job.failed",)) is None
    assert await _enqueue(sessions, clock, url, event_type="job.started", events=("job.*",)) is not None
    with pytest.raises(WebhookFilterError, match=r"'job\.done'"):
        WebhookSubscription(url=url, events=("job.done",)).validate(OutboundPolicy())
    with pytest.raises(UnsafeUrlError, match="userinfo"):
        WebhookSubscription(url="https://a:b@hooks.example.com/").validate(OutboundPolicy())


async def test_ssrf_targets_are_refused_given_up_and_the_canary_hears_nothing(
    sessions: async_sessionmaker[AsyncSession], receiver: LoopbackServer, canary: LoopbackServer
) -> None:
    clock = FakeClock()
    urls = [
        f"http://127.0.0.1:{canary.port}/",
        f"http://localhost:{canary.port}/",
        f"http://[::ffff:127.0.0.1]:{canary.port}/",
        f"http://2130706433:{canary.port}/",
        f"http://0177.0.0.1:{canary.port}/",
        f"http://user@127.0.0.1:{canary.port}/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/",
        f"http://0.0.0.0:{canary.port}/",
    ]
    for i, url in enumerate(urls):
        await _enqueue(sessions, clock, url, job_id=f"job_{i}")
    async with OutboundPoster(_policy(receiver)) as poster:
        dispatcher = WebhookDispatcher(sessions, poster, schedule=FAST, clock=clock)
        assert await dispatcher.run_once() == len(urls)
        clock.advance(days=2)
        assert await dispatcher.run_once() == 0
    async with sessions() as session:
        for i in range(len(urls)):
            [state] = await messages_for_job(session, f"job_{i}")
            assert state.gave_up_at is not None
            assert state.last_error is not None
            assert state.last_error.startswith("refused: ")
    assert canary.received == []


async def test_a_redirect_to_loopback_is_not_followed(
    sessions: async_sessionmaker[AsyncSession], receiver: LoopbackServer, canary: LoopbackServer
) -> None:
    async def redirect(request: web.Request, n: int) -> web.StreamResponse:
        raise web.HTTPTemporaryRedirect(location=f"http://127.0.0.1:{canary.port}/")

    receiver.respond = redirect
    clock = FakeClock()
    await _enqueue(sessions, clock, f"{receiver.base}/hook")
    async with OutboundPoster(_policy(receiver)) as poster:
        await WebhookDispatcher(sessions, poster, schedule=FAST, clock=clock).run_once()
    async with sessions() as session:
        [state] = await messages_for_job(session, "job_1")
    assert state.last_status == 307
    assert state.delivered_at is None
    assert state.next_attempt_at is not None
    assert canary.received == []


async def test_the_background_dispatcher_delivers_after_a_notify(
    sessions: async_sessionmaker[AsyncSession], receiver: LoopbackServer
) -> None:
    arrived = asyncio.Event()

    async def record(request: web.Request, n: int) -> web.StreamResponse:
        arrived.set()
        return web.Response(status=204)

    receiver.respond = record
    async with OutboundPoster(_policy(receiver)) as poster:
        dispatcher = WebhookDispatcher(sessions, poster, poll_interval_s=30)
        dispatcher.start()
        await _enqueue(sessions, FakeClock(dt.datetime.now(dt.UTC)), f"{receiver.base}/hook")
        dispatcher.notify()
        await asyncio.wait_for(arrived.wait(), timeout=20)
        await dispatcher.stop()
    assert len(receiver.received) == 1
