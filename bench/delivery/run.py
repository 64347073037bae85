"""Figures for the durable delivery parts; prints, never asserts."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from aiohttp import web

from gateway.delivery.http import OutboundPoster
from gateway.webhooks import WebhookDispatcher, WebhookSubscription, enqueue_webhook
from registry.db import migrate
from registry.db.engine import create_engine, session_factory
from registry.delivery.idempotency import IdempotencyStore, hash_request_body
from registry.delivery.outbox import AttemptResult, NewMessage, claim_due, enqueue, record_attempts
from registry.delivery.retry import RetrySchedule
from registry.netguard import OutboundPolicy, check_url

POSTGRES_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def _guard_cost() -> None:
    policy = OutboundPolicy.from_settings(allowlist="127.0.0.1:8080")
    urls = [
        "https://hooks.example.com/clearance?x=1",
        "https://[2606:4700::1111]/a",
        "https://93.184.215.14/",
    ]
    n = 20_000
    started = time.perf_counter()
    for i in range(n):
        check_url(urls[i % 3], policy)
    per_call = (time.perf_counter() - started) / n * 1e6
    print(f"check_url: {per_call:.1f} us per URL (no DNS)")


async def _receiver() -> tuple[web.AppRunner, int]:
    async def ok(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", ok)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    assert site._server is not None
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


async def _bench_database(label: str, url: str, messages: int) -> None:
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    sessions = session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    try:
        runner, port = await _receiver()
        subscription = WebhookSubscription(url=f"http://127.0.0.1:{port}/hook")
        async with sessions() as session, session.begin():
            for i in range(messages):
                await enqueue_webhook(
                    session,
                    subscription,
                    tenant_id="acme",
                    job_id=f"job_{i}",
                    event_type="job.succeeded",
                    data={"id": f"job_{i}"},
                    now=now,
                )
        policy = OutboundPolicy.from_settings(allow_http=True, allowlist=f"127.0.0.1:{port}")
        async with OutboundPoster(policy) as poster:
            dispatcher = WebhookDispatcher(sessions, poster)
            started = time.perf_counter()
            sent = 0
            while sent < messages:
                sent += await dispatcher.run_once()
            elapsed = time.perf_counter() - started
        await runner.cleanup()
        rate = messages / elapsed
        print(
            f"{label}: webhooks signed+delivered to loopback: {rate:,.0f}/s ({messages} in {elapsed:.2f} s)"
        )

        async with sessions() as session, session.begin():
            for _ in range(messages):
                await enqueue(
                    session, NewMessage(kind="bench", target_url="https://x.example/", payload="{}"), now=now
                )
        schedule = RetrySchedule()

        async def worker() -> int:
            done = 0
            while batch := await claim_due(sessions, ["bench"], now=now, limit=20):
                ok = AttemptResult(status_code=200)
                await record_attempts(sessions, [(m, ok) for m in batch], now=now, schedule=schedule)
                done += len(batch)
            return done

        started = time.perf_counter()
        counts = await asyncio.gather(*(worker() for _ in range(4)))
        elapsed = time.perf_counter() - started
        rate = sum(counts) / elapsed
        print(f"{label}: outbox claim+record, 4 workers: {rate:,.0f} messages/s (split {counts})")

        store = IdempotencyStore(sessions)
        latencies = []
        for i in range(messages):
            t0 = time.perf_counter()
            await store.begin("acme", f"key-{i}", hash_request_body(b"{}"), now=now)
            await store.complete("acme", f"key-{i}", status=202, body=b"{}", now=now)
            latencies.append(time.perf_counter() - t0)
        print(
            f"{label}: idempotency begin+complete: p50 {statistics.median(latencies) * 1e3:.2f} ms, "
            f"p99 {statistics.quantiles(latencies, n=100)[98] * 1e3:.2f} ms"
        )
    finally:
        await engine.dispose()


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _run(messages: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        await _bench_database("SQLite", f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}", messages)
    name = f"clearance_bench_{uuid.uuid4().hex[:12]}"
    try:
        await _admin(f'CREATE DATABASE "{name}"')
    except OSError as exc:
        print(f"PostgreSQL: skipped ({exc})")
        return
    try:
        await _bench_database("PostgreSQL", f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", messages)
    finally:
        await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.delivery")
    parser.add_argument("--messages", type=int, default=500)
    args = parser.parse_args(
        sys.argv[1:] if argv is None and __name__ != "bench.delivery.run" else argv or []
    )
    _guard_cost()
    asyncio.run(_run(args.messages))
