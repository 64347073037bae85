"""`GET /v1/usage`: a tenant sees its month's jobs, images and cost, and what each of its
agreements has counted and has left, the same counters the admission reserves on."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from tests.gateway.jobs.conftest import HOBBY, STUDIO, JobsWorld, flux2_job, open_gateway, sd_job


async def test_a_tenant_sees_its_usage_and_what_its_quota_has_left(
    jobs_world: JobsWorld, tmp_path: Path
) -> None:
    async with open_gateway(jobs_world, tmp_path) as gateway:
        before = (await gateway.get("/v1/usage")).json()
        jobs = [(await gateway.submit(flux2_job(seed=seed), Prefer="wait=60")).json() for seed in (1, 2)] + [
            (await gateway.submit(sd_job(steps=2, num_images=2), Prefer="wait=60")).json()
        ]
        assert [j["status"] for j in jobs] == ["succeeded"] * 3, jobs
        after = (await gateway.get("/v1/usage")).json()
        hobby = (await gateway.get("/v1/usage", tenant=HOBBY)).json()
        earlier = await gateway.get("/v1/usage?month=2020-01")
        invalid = await gateway.get("/v1/usage?month=2026-13")

    now = dt.datetime.now(dt.UTC)
    assert after["month"] == f"{now.year:04d}-{now.month:02d}"
    assert after["jobs"] - before["jobs"] == 3
    assert after["jobs_by_status"]["succeeded"] - before["jobs_by_status"].get("succeeded", 0) == 3
    assert after["images"] - before["images"] == 4
    assert round(after["cost_usd"] - before["cost_usd"], 6) == round(sum(j["cost_usd"] or 0 for j in jobs), 6)

    quotas = {a["agreement"]: a for a in after["agreements"]}
    # the tenant's own agreements (the operator's, relied on too, are not the tenant's to see)
    relied = {a for j in jobs for a in j["decision"]["agreements"]} & set(quotas)
    assert relied, "the commercial FLUX.2 jobs rely on the studio's agreement"
    for agreement in relied:
        counted = sum(j["num_images"] for j in jobs if agreement in j["decision"]["agreements"])
        row = quotas[agreement]
        assert row["used"] - {a["agreement"]: a for a in before["agreements"]}[agreement]["used"] == counted
        assert row["remaining"] == row["monthly_quota"] - row["used"]

    assert hobby["agreements"] == []  # another tenant sees none of it
    assert hobby["jobs"] == 0
    assert earlier.status_code == 200
    assert (earlier.json()["jobs"], earlier.json()["images"]) == (0, 0)
    assert invalid.status_code == 400
    assert "month" in invalid.json()["detail"]
    assert STUDIO not in str(hobby)
