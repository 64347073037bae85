"""A tenant's own job limits (its catalog entry's `limits`: a plan, a tier) override the
settings' for it alone: rate per minute, concurrency and queue depth, set through the admin API
and applied by the running gateway."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any

import msgspec
import pytest

from registry.catalog.entries import Tenant
from tests.gateway.jobs.conftest import (
    HOBBY,
    PROVIDER_FLUX2,
    Gateway,
    JobsWorld,
    flux2_job,
    open_gateway,
    sd_job,
)


async def set_limits(gateway: Gateway, tenant: str, limits: dict[str, int] | None) -> None:
    admin = await gateway.headers(scopes="admin")
    entry = (await gateway.http.get(f"/admin/tenants/{tenant}", headers=admin)).json()
    entry["limits"] = limits
    if limits is None:
        del entry["limits"]
    changed = await gateway.http.put(f"/admin/tenants/{tenant}", json=entry, headers=admin)
    assert changed.status_code == 200, changed.text
    assert changed.json().get("limits") == limits


async def test_a_tenant_with_a_rate_of_its_own(jobs_world: JobsWorld, tmp_path: Path) -> None:
    async with open_gateway(jobs_world, tmp_path, job_rate_per_minute=50) as gateway:
        await set_limits(gateway, HOBBY, {"rate_per_minute": 2})
        limited = [await gateway.submit(sd_job(steps=1), tenant=HOBBY) for _ in range(3)]
        others = [await gateway.submit(sd_job(steps=1)) for _ in range(3)]  # the studio: the setting's 50
        await set_limits(gateway, HOBBY, None)  # back to the setting's
        assert (await gateway.submit(sd_job(steps=1), tenant=HOBBY)).status_code == 202

    assert [r.status_code for r in limited] == [202, 202, 429]
    assert "exceeded 2 jobs per minute" in limited[2].json()["detail"]
    assert [r.status_code for r in others] == [202, 202, 202]


async def test_a_tenant_with_a_concurrency_and_queue_depth_of_its_own(
    jobs_world: JobsWorld, tmp_path: Path
) -> None:
    provider = jobs_world.provider
    async with open_gateway(jobs_world, tmp_path, job_concurrency=4, job_queue_depth=16) as gateway:
        await set_limits(gateway, HOBBY, {"concurrency": 1, "queue_depth": 1})
        provider.gate.clear()
        try:
            running = (await gateway.submit(flux2_job(), tenant=HOBBY)).json()
            assert running["runner"] == PROVIDER_FLUX2
            await gateway.wait_for(running["id"], "running", tenant=HOBBY)
            waiting = (await gateway.submit(flux2_job(seed=8), tenant=HOBBY)).json()
            full = await gateway.submit(flux2_job(seed=9), tenant=HOBBY)
            other = (await gateway.submit(sd_job(steps=2), Prefer="wait=60")).json()
            await asyncio.sleep(1.0)  # two of the executor's slot retries
            still = (await gateway.get(f"/v1/jobs/{waiting['id']}", tenant=HOBBY)).json()
        finally:
            provider.gate.set()
        first = await gateway.wait_for(running["id"], tenant=HOBBY)
        second = await gateway.wait_for(waiting["id"], tenant=HOBBY)

    assert full.status_code == 429
    assert full.json()["type"].endswith("queue-full")
    assert "1 jobs queued" in full.json()["detail"]
    assert other["status"] == "succeeded"  # another tenant, the settings' limits
    assert still["status"] == "queued"  # one at a time for this tenant, though the setting says 4
    assert first["status"] == second["status"] == "succeeded"
    assert _at(second, "started_at") >= _at(first, "finished_at")


def test_limits_are_checked_as_catalog_entries() -> None:
    tenant = msgspec.convert({"id": "acme", "name": "Acme", "limits": {"concurrency": 8}}, Tenant)
    assert tenant.limits is not None
    assert (tenant.limits.concurrency, tenant.limits.rate_per_minute) == (8, None)
    for wrong in ({"concurrency": 0}, {"rate_per_minute": -1}, {"queue_deep": 3}):
        with pytest.raises(msgspec.ValidationError):
            msgspec.convert({"id": "acme", "name": "Acme", "limits": wrong}, Tenant)


def _at(job: dict[str, Any], field: str) -> dt.datetime:
    return dt.datetime.fromisoformat(job[field])
