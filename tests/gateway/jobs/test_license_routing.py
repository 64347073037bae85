"""One model, two runners: self-hosted under the FLUX [dev] Non-Commercial License, and a provider
whose service terms include commercial use. The tenant's agreements decide where a job goes."""

from __future__ import annotations

from sqlalchemy import select

from gateway.jobs.tiny_catalog import TINY_FLUX2, TINY_FLUX2_TURBO
from registry.audit import EventKind, EventQuery, monthly_usage, query_events
from registry.db.engine import create_engine, session_factory
from registry.delivery.tables import OutboxMessageRow
from registry.jobs.tables import UsageCounterRow
from tests.gateway.jobs.conftest import (
    HOBBY,
    LOCAL_FLUX2,
    PROVIDER_FLUX2,
    PROVIDER_KEY,
    STUDIO,
    STUDIO_AGREEMENT,
    Gateway,
    JobsWorld,
    flux2_job,
    sd_job,
)


async def test_commercial_job_without_agreement_goes_to_the_provider(
    gateway: Gateway, jobs_world: JobsWorld
) -> None:
    before = len(jobs_world.provider.requests)
    job = (await gateway.submit(flux2_job(num_images=2), tenant=HOBBY, Prefer="wait=60")).json()
    assert job["status"] == "succeeded", job
    assert job["runner"] == PROVIDER_FLUX2
    assert "bfl-api-terms@1" in job["decision"]["licenses"]
    assert job["cost_usd"] == 0.02
    sent = jobs_world.provider.requests[before:]
    assert len(sent) == 1
    assert sent[0]["auth"] == f"Bearer {PROVIDER_KEY}"  # the key from the settings
    assert (sent[0]["n"], sent[0]["size"]) == (2, "32x32")
    png = await gateway.get(job["images"][0], tenant=HOBBY)
    assert png.status_code == 200


async def test_the_licensed_tenant_is_served_self_hosted_and_cheaper(gateway: Gateway) -> None:
    job = (await gateway.submit(flux2_job(), tenant=STUDIO, Prefer="wait=60")).json()
    assert job["status"] == "succeeded", job
    assert job["runner"] == LOCAL_FLUX2
    assert STUDIO_AGREEMENT in job["decision"]["agreements"]
    assert any(o["kind"] == "usage_metering" for o in job["decision"]["obligations"])


async def test_no_permitted_runner_answers_403_with_clauses_and_alternatives(gateway: Gateway) -> None:
    body = flux2_job(adapters=[{"id": TINY_FLUX2_TURBO}])  # the provider runner has no adapter
    response = await gateway.submit(body, tenant=HOBBY)
    assert response.status_code == 403, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"] == "urn:clearance:problem:license-denied"
    assert problem["decision"] == "deny"
    assert any(r["license"] == "flux-dev-ncl@2.0" and r["clause"] for r in problem["reasons"])
    assert any(
        a["model_id"] == TINY_FLUX2 and a["runner_id"] == PROVIDER_FLUX2 for a in problem["alternatives"]
    )
    jobs = (await gateway.get("/v1/jobs", tenant=HOBBY)).json()
    assert jobs["items"] == []
    engine = create_engine(gateway.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            page = await query_events(session, EventQuery(kind=EventKind.POLICY_DECISION, tenant=HOBBY))
    finally:
        await engine.dispose()
    assert [e.decision_id for e in page.events] == [problem["decision_id"]]


async def test_a_declared_use_case_the_license_forbids_is_denied(gateway: Gateway) -> None:
    response = await gateway.submit(sd_job(use_cases=["medical_advice"]))
    assert response.status_code == 403, response.text
    assert response.json()["reasons"]


async def test_quota_is_reserved_per_agreement_and_exhaustion_is_a_403(gateway: Gateway) -> None:
    turbo = flux2_job(adapters=[{"id": TINY_FLUX2_TURBO}], steps=2)  # only the local runner serves it
    first = (await gateway.submit({**turbo, "num_images": 4}, Prefer="wait=60")).json()
    assert first["status"] == "succeeded", first
    over = await gateway.submit({**turbo, "num_images": 3})
    assert over.status_code == 403, over.text
    assert STUDIO_AGREEMENT in str(over.json()["reasons"])
    fits = (await gateway.submit({**turbo, "num_images": 2}, Prefer="wait=60")).json()
    assert fits["status"] == "succeeded"
    engine = create_engine(gateway.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            counter = await session.get(UsageCounterRow, (STUDIO_AGREEMENT, first["created_at"][:7]))
            reports = (
                await session.scalars(
                    select(OutboxMessageRow).where(OutboxMessageRow.kind == "licensor_usage")
                )
            ).all()
            year, month = (int(part) for part in first["created_at"][:7].split("-"))
            usage = await monthly_usage(session, year, month, tenant=STUDIO)
    finally:
        await engine.dispose()
    assert counter is not None
    assert counter.used == 6
    assert sorted((r.job_id, r.payload) for r in reports) == sorted(
        [(first["id"], '{"number_of_generations":4}'), (fits["id"], '{"number_of_generations":2}')]
    )
    assert {r.target_url for r in reports} == {"https://api.bfl.ai/v1/licenses/models/flux-2-dev/usage"}
    assert usage.agreements[STUDIO_AGREEMENT].images == 6  # from the job.outcome events alone
    assert usage.artifacts[TINY_FLUX2_TURBO].jobs == 2
