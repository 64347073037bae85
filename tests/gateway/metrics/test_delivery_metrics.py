"""Webhook deliveries count by outcome: a receiver that fails once, then accepts the retry."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from tests.gateway.jobs.conftest import JobsWorld, open_gateway, sd_job
from tests.gateway.metrics.conftest import METRICS_TOKEN, Samples, scrape, value
from tests.support_loopback import LoopbackServer


async def _fail_first(_request: web.Request, count: int) -> web.StreamResponse:
    return web.Response(status=500 if count == 1 else 204)


async def test_webhook_attempts_count_by_outcome(jobs_world: JobsWorld, tmp_path: Path) -> None:
    receiver = await LoopbackServer(respond=_fail_first).start()
    try:
        async with open_gateway(
            jobs_world, tmp_path, metrics_token=METRICS_TOKEN, outbound_allowlist=f"127.0.0.1:{receiver.port}"
        ) as gateway:
            hook = {"url": f"{receiver.base}/hooks/clearance"}  # the terminal event only
            job = (await gateway.submit(sd_job(webhook=hook), Prefer="wait=60")).json()
            assert job["status"] == "succeeded"
            samples: Samples = {}
            for _ in range(400):
                samples = await scrape(gateway)
                if value(samples, "clearance_delivery_attempts_total", kind="webhook", outcome="delivered"):
                    break
                await asyncio.sleep(0.05)
    finally:
        await receiver.stop()
    assert value(samples, "clearance_delivery_attempts_total", kind="webhook", outcome="http_error") == 1
    assert value(samples, "clearance_delivery_attempts_total", kind="webhook", outcome="delivered") == 1
    assert (
        value(samples, "clearance_delivery_attempts_total", kind="licensor_report", outcome="delivered") == 0
    )
    assert len(receiver.received) == 2
