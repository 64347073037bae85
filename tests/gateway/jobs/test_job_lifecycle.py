"""Queue, events, cancel, deadline, limits, listing and tenant isolation."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

from tests.gateway.jobs.conftest import (
    HOBBY,
    LOCAL_SD,
    STUDIO,
    Gateway,
    JobsWorld,
    flux2_job,
    open_gateway,
    sd_job,
)


def parse_sse(text: str) -> list[tuple[str, dict[str, Any]]]:
    events = []
    for block in text.strip().split("\r\n\r\n" if "\r\n\r\n" in text else "\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


async def test_events_stream_queued_started_progress_image_completed(gateway: Gateway) -> None:
    job = (await gateway.submit(sd_job(steps=3, num_images=2))).json()
    response = await gateway.get(job["links"]["events"])
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "queued"
    assert events[0][1]["position"] == 1
    assert kinds[1] == "started"
    assert kinds.count("progress") >= 3
    assert [data["step"] for kind, data in events if kind == "progress"][-1] == 3
    assert [data["index"] for kind, data in events if kind == "image"] == [0, 1]
    assert kinds[-1] == "completed"
    assert events[-1][1]["status"] == "succeeded"
    again = parse_sse((await gateway.get(job["links"]["events"])).text)  # a late client sees it all
    assert [k for k, _ in again] == kinds
    headers = {**await gateway.headers(), "Last-Event-ID": str(len(kinds) - 1)}
    resumed = parse_sse((await gateway.http.get(job["links"]["events"], headers=headers)).text)
    assert [k for k, _ in resumed] == ["completed"]


async def test_paused_runner_queues_then_cancel_and_deadline_end_jobs(gateway: Gateway) -> None:
    gateway.pool.pause(LOCAL_SD)
    queued = (await gateway.submit(sd_job())).json()
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
    late = (await gateway.submit(sd_job(deadline=soon))).json()
    assert (await gateway.get(f"/v1/jobs/{queued['id']}")).json()["status"] == "queued"
    canceled = await gateway.http.post(queued["links"]["cancel"], headers=await gateway.headers())
    assert canceled.status_code == 202
    assert canceled.json()["status"] == "canceled"
    aborted = await gateway.wait_for(late["id"])
    assert aborted["status"] == "aborted"
    assert "deadline" in aborted["error"]
    events = parse_sse((await gateway.get(late["links"]["events"])).text)
    assert [k for k, _ in events] == ["queued", "aborted"]
    gateway.pool.pause(LOCAL_SD, False)
    image = await gateway.get(f"/v1/jobs/{queued['id']}/images/0")
    assert image.status_code == 409


async def test_a_full_queue_answers_503_with_retry_after(jobs_world: JobsWorld, tmp_path: Any) -> None:
    async with open_gateway(jobs_world, tmp_path, job_queue_depth=2) as gateway:
        gateway.pool.pause(LOCAL_SD)
        accepted = [(await gateway.submit(sd_job())).status_code for _ in range(2)]
        assert accepted == [202, 202]
        full = await gateway.submit(sd_job())
        assert full.status_code == 503, full.text  # a paused runner is down: not the tenant's doing
        assert full.json()["type"] == "urn:clearance:problem:runners-unavailable"
        assert int(full.headers["retry-after"]) >= 1
        gateway.pool.pause(LOCAL_SD, False)
        for item in (await gateway.get("/v1/jobs")).json()["items"]:
            await gateway.wait_for(item["id"])


async def test_the_rate_limit_answers_429_with_retry_after(jobs_world: JobsWorld, tmp_path: Any) -> None:
    async with open_gateway(jobs_world, tmp_path, job_rate_per_minute=4) as gateway:
        gateway.pool.pause(LOCAL_SD)
        # submissions count per calendar minute: start with time to spare in one
        if (left := 60 - time.time() % 60) < 15:
            await asyncio.sleep(left + 0.1)
        accepted = [(await gateway.submit(sd_job())).status_code for _ in range(4)]
        assert accepted == [202] * 4
        limited = await gateway.submit(sd_job())
        assert limited.status_code == 429
        assert limited.json()["type"] == "urn:clearance:problem:rate-limited"
        assert int(limited.headers["retry-after"]) >= 1
        gateway.pool.pause(LOCAL_SD, False)
        for item in (await gateway.get("/v1/jobs")).json()["items"]:
            await gateway.wait_for(item["id"])


async def test_listing_is_per_tenant_with_cursor_pagination_and_filters(gateway: Gateway) -> None:
    gateway.pool.pause(LOCAL_SD)
    ids = [(await gateway.submit(sd_job())).json()["id"] for _ in range(3)]
    first = (await gateway.get("/v1/jobs?limit=2")).json()
    assert [j["id"] for j in first["items"]] == ids[::-1][:2]
    second = (await gateway.get(f"/v1/jobs?limit=2&cursor={first['next_cursor']}")).json()
    assert [j["id"] for j in second["items"]] == [ids[0]]
    assert second["next_cursor"] is None
    assert len((await gateway.get("/v1/jobs?status=queued")).json()["items"]) == 3
    assert (await gateway.get("/v1/jobs?status=succeeded")).json()["items"] == []
    assert (await gateway.get("/v1/jobs?status=bogus")).status_code == 400
    assert (await gateway.get("/v1/jobs?cursor=garbage")).status_code == 400
    assert (await gateway.get("/v1/jobs", tenant=HOBBY)).json()["items"] == []
    foreign = ids[0]
    for path in (f"/v1/jobs/{foreign}", f"/v1/jobs/{foreign}/events", f"/v1/jobs/{foreign}/images/0"):
        response = await gateway.get(path, tenant=HOBBY)
        assert response.status_code == 404, path
    cancel = await gateway.http.post(f"/v1/jobs/{foreign}/cancel", headers=await gateway.headers(HOBBY))
    assert cancel.status_code == 404
    gateway.pool.pause(LOCAL_SD, False)
    for job_id in ids:
        await gateway.wait_for(job_id)


async def test_scopes_are_enforced(gateway: Gateway) -> None:
    read_only = await gateway.headers(STUDIO, "jobs:read")
    assert (await gateway.http.post("/v1/jobs", json=sd_job(), headers=read_only)).status_code == 403
    assert (await gateway.http.post("/v1/jobs", json=sd_job())).status_code == 401


async def test_a_tenant_at_its_concurrency_limit_waits_even_with_idle_runners(
    jobs_world: JobsWorld, tmp_path: Any
) -> None:
    async with open_gateway(jobs_world, tmp_path, job_concurrency=1) as gateway:
        first = (await gateway.submit(sd_job(steps=20))).json()
        second = (await gateway.submit(flux2_job())).json()  # another runner, idle
        first_done = await gateway.wait_for(first["id"])
        second_done = await gateway.wait_for(second["id"])
        assert first_done["status"] == second_done["status"] == "succeeded"
        started = dt.datetime.fromisoformat(second_done["started_at"])
        assert started >= dt.datetime.fromisoformat(first_done["finished_at"])
        other_tenant = (await gateway.submit(sd_job(), tenant=HOBBY, Prefer="wait=60")).json()
        assert other_tenant["status"] == "succeeded"
