"""`DELETE /v1/jobs/{id}`: a tenant erases an ended job's images and the text of its prompts,
everywhere the gateway copied it (the job, the stored idempotent response, the webhook messages),
while its decision, cost and audit trail stay."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from registry.audit import EventKind, EventQuery, query_events
from registry.db.engine import create_engine, session_factory
from registry.delivery.tables import IdempotencyKeyRow, OutboxMessageRow
from tests.gateway.jobs.conftest import HOBBY, STUDIO, JobsWorld, flux2_job, open_gateway, sd_job
from tests.support_loopback import LoopbackServer

SECRET = "the-secret-lighthouse"


@pytest.fixture
async def receiver() -> AsyncIterator[LoopbackServer]:
    server = await LoopbackServer().start()
    yield server
    await server.stop()


async def test_an_erased_job_keeps_its_decision_and_loses_its_prompts_and_images(
    jobs_world: JobsWorld, tmp_path: Path, receiver: LoopbackServer
) -> None:
    hook = {"url": f"{receiver.base}/hooks"}
    body = sd_job(steps=2, prompt=f"a lighthouse, {SECRET}", negative_prompt=f"blurry {SECRET}", webhook=hook)
    allow = f"127.0.0.1:{receiver.port}"
    async with open_gateway(jobs_world, tmp_path, outbound_allowlist=allow) as gateway:
        job = (await gateway.submit(body, Prefer="wait=60", **{"Idempotency-Key": "erase-me"})).json()
        assert job["status"] == "succeeded", job
        image = tmp_path / "images" / STUDIO / f"{job['id']}.0.png"
        assert image.exists()
        for _ in range(200):  # the terminal webhook was sent with the prompt in it
            if receiver.received:
                break
            await asyncio.sleep(0.05)
        assert SECRET in receiver.received[0].body.decode()
        assert SECRET in (await gateway.get(f"/v1/jobs/{job['id']}/events")).text  # the kept terminal event

        assert (
            await gateway.http.delete(f"/v1/jobs/{job['id']}", headers=await gateway.headers(HOBBY))
        ).status_code == 404
        answer = await gateway.http.delete(f"/v1/jobs/{job['id']}", headers=await gateway.headers())
        again = await gateway.http.delete(f"/v1/jobs/{job['id']}", headers=await gateway.headers())
        read = (await gateway.get(f"/v1/jobs/{job['id']}")).json()
        gone = await gateway.get(f"/v1/jobs/{job['id']}/images/0")
        stream = (await gateway.get(f"/v1/jobs/{job['id']}/events")).text
        replay = await gateway.submit(body, Prefer="wait=60", **{"Idempotency-Key": "erase-me"})

        engine = create_engine(gateway.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                payloads = list(
                    await session.scalars(
                        select(OutboxMessageRow.payload).where(OutboxMessageRow.job_id == job["id"])
                    )
                )
                stored = list(await session.scalars(select(IdempotencyKeyRow.response_body)))
                events = await query_events(session, EventQuery(kind=EventKind.JOB_ERASED))
        finally:
            await engine.dispose()

    assert answer.status_code == again.status_code == 200
    erased = answer.json()
    assert again.json() == erased == read
    assert (erased["parameters"]["prompt"], erased["parameters"]["negative_prompt"]) == ("", "")
    assert erased["parameters"]["erased_at"]
    assert erased["images"] == []
    assert (erased["status"], erased["decision"], erased["cost_usd"]) == (
        job["status"],
        job["decision"],
        job["cost_usd"],
    )
    assert erased["parameters"]["steps"] == job["parameters"]["steps"]
    assert not image.exists()
    assert gone.status_code == 404
    assert "completed" in stream
    assert SECRET not in stream
    assert replay.status_code in (200, 202)
    assert replay.json()["id"] == job["id"]  # the same job, replayed
    assert SECRET not in replay.text
    assert payloads
    assert all(SECRET not in p for p in payloads)
    assert all(SECRET.encode() not in (s or b"") for s in stored)
    [event] = events.events
    assert (event.job_id, event.tenant) == (job["id"], STUDIO)
    assert json.loads(event.payload)["images_deleted"] == 1
    assert SECRET not in event.payload


async def test_a_running_job_is_not_erased(jobs_world: JobsWorld, tmp_path: Path) -> None:
    provider = jobs_world.provider
    async with open_gateway(jobs_world, tmp_path) as gateway:
        provider.gate.clear()
        try:
            job = (await gateway.submit(flux2_job(), tenant=HOBBY)).json()
            await gateway.wait_for(job["id"], "running", tenant=HOBBY)
            refused = await gateway.http.delete(f"/v1/jobs/{job['id']}", headers=await gateway.headers(HOBBY))
        finally:
            provider.gate.set()
        ended = await gateway.wait_for(job["id"], tenant=HOBBY)
    assert refused.status_code == 409
    assert "cancel it, then erase it" in refused.json()["detail"]
    assert ended["parameters"]["prompt"]  # untouched
