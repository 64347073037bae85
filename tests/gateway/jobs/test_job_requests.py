"""Bounds on every field (422 naming it), idempotency keys, and the audit log as a gate."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import time
from typing import Any

import pytest
from sqlalchemy import func, select, text

from gateway.jobs.dispatch import new_job_id
from gateway.jobs.tiny_catalog import TINY_FLUX2, TINY_FLUX2_TURBO
from registry.db.engine import create_engine, session_factory
from registry.delivery.idempotency import IdempotencyStore, hash_request_body
from registry.jobs.tables import JobRow
from tests.gateway.jobs.conftest import HOBBY, LOCAL_SD, STUDIO, Gateway, JobsWorld, sd_job

INVALID: list[tuple[dict[str, Any], str]] = [
    ({"prompt": ""}, "prompt"),
    ({"prompt": "x" * 4001}, "prompt"),
    ({"width": 30}, "width"),
    ({"width": 256}, "width"),  # the tiny model's max_width is 128
    ({"height": 9000}, "height"),
    ({"steps": 0}, "steps"),
    ({"steps": 201}, "steps"),
    ({"num_images": 9}, "num_images"),
    ({"guidance": -1}, "guidance"),
    ({"seed": -5}, "seed"),
    ({"model": "no/such-model"}, "model"),
    ({"adapters": [{"id": TINY_FLUX2_TURBO}]}, "adapters[0].id"),  # made for the FLUX.2 model
    ({"adapters": [{"id": "tiny/x", "scale": 9}]}, "adapters[0].scale"),
    ({"purpose": "world_domination"}, "purpose"),
    ({"use_cases": ["picnic"]}, "use_cases[0]"),
    ({"tenant_id": "hobby"}, "tenant_id"),
    ({"webhook": {"url": "https://example.com/hook", "events": ["job.exploded"]}}, "webhook.events"),
    ({"deadline": "2020-01-01T00:00:00Z"}, "deadline"),
    ({"deadline": "2030-01-01T00:00:00"}, "deadline"),
]


@pytest.mark.parametrize(("change", "field"), INVALID)
async def test_out_of_bounds_fields_answer_422_naming_the_field(
    gateway: Gateway, change: dict[str, Any], field: str
) -> None:
    response = await gateway.submit(sd_job(**change))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert problem["type"] == "urn:clearance:problem:invalid-request"
    assert [e["field"] for e in problem["errors"]] == [field], problem


async def test_nothing_is_created_by_an_invalid_request(gateway: Gateway) -> None:
    await gateway.submit(sd_job(width=30))
    assert (await gateway.get("/v1/jobs")).json()["items"] == []


async def test_same_key_and_body_replays_one_job(gateway: Gateway) -> None:
    first = await gateway.submit(sd_job(), **{"Idempotency-Key": "order-1"})
    again = await gateway.submit(sd_job(), **{"Idempotency-Key": "order-1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other_tenant = await gateway.submit(sd_job(), tenant=HOBBY, **{"Idempotency-Key": "order-1"})
    assert other_tenant.json()["id"] != first.json()["id"]  # keys are per tenant
    changed = await gateway.submit(sd_job(prompt="something else"), **{"Idempotency-Key": "order-1"})
    assert changed.status_code == 422
    assert changed.json()["type"] == "urn:clearance:problem:idempotency-key-reused"
    items = (await gateway.get("/v1/jobs")).json()["items"]
    assert [j["id"] for j in items] == [first.json()["id"]]
    await gateway.wait_for(first.json()["id"])


async def test_a_duplicate_while_the_first_is_in_progress_answers_409(gateway: Gateway) -> None:
    body = sd_job()
    engine = create_engine(gateway.settings.database_url)
    try:
        store = IdempotencyStore(session_factory(engine))
        encoded = json.dumps(body).encode()
        await store.begin(STUDIO, "in-flight", hash_request_body(encoded), now=dt.datetime.now(dt.UTC))
    finally:
        await engine.dispose()
    response = await gateway.http.post(
        "/v1/jobs",
        content=encoded,
        headers={
            **await gateway.headers(),
            "Idempotency-Key": "in-flight",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "urn:clearance:problem:idempotency-key-in-progress"


async def test_concurrent_duplicates_create_one_job(gateway: Gateway) -> None:
    gateway.pool.pause(LOCAL_SD)
    headers = {**await gateway.headers(), "Idempotency-Key": "burst"}
    answers = await asyncio.gather(
        *(gateway.http.post("/v1/jobs", json=sd_job(), headers=headers) for _ in range(6))
    )
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {202, 409}
    ids = {r.json()["id"] for r in answers if r.status_code == 202}
    assert len(ids) == 1
    gateway.pool.pause(LOCAL_SD, False)
    assert len((await gateway.get("/v1/jobs")).json()["items"]) == 1
    await gateway.wait_for(ids.pop())


async def test_when_the_audit_log_refuses_the_decision_nothing_is_dispatched(
    gateway: Gateway, jobs_world: JobsWorld
) -> None:
    runs_before = list(jobs_world.local_runners[LOCAL_SD].batches_run)
    engine = create_engine(gateway.settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "CREATE TRIGGER audit_down BEFORE INSERT ON audit_events "
                    "BEGIN SELECT RAISE(ABORT, 'audit storage unavailable'); END"
                )
            )
        response = await gateway.submit(sd_job(), Prefer="wait=5")
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "urn:clearance:problem:audit-unavailable"
        assert response.headers["retry-after"]
        async with session_factory(engine)() as session:
            assert await session.scalar(select(func.count()).select_from(JobRow)) == 0
        async with engine.begin() as connection:
            await connection.execute(text("DROP TRIGGER audit_down"))
    finally:
        await engine.dispose()
    assert jobs_world.local_runners[LOCAL_SD].batches_run == runs_before
    assert (await gateway.submit(sd_job(), Prefer="wait=60")).json()["status"] == "succeeded"


async def test_unknown_model_is_422_and_known_model_without_runner_too(gateway: Gateway) -> None:
    response = await gateway.submit(
        {
            "model": TINY_FLUX2,
            "prompt": "x",
            "purpose": "personal",
            "steps": 2,
            "adapters": [{"id": TINY_FLUX2_TURBO}, {"id": TINY_FLUX2_TURBO}],
        }
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "adapters[1].id"


def test_job_ids_are_opaque_unique_and_sort_by_creation_time() -> None:
    first = new_job_id()
    time.sleep(0.002)
    later = [new_job_id() for _ in range(1000)]
    assert all(re.fullmatch(r"job_[0-9a-f]{24}", job_id) for job_id in [first, *later])
    assert len(set(later)) == 1000
    assert all(first < job_id for job_id in later)
