"""`PATCH /admin/runners/{id}` pauses a runner for maintenance in every gateway process (jobs
routed to it wait queued, then run once it is resumed), audited; `GET /admin/fleet` shows each
runner as the answering process sees it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.gateway.jobs.conftest import (
    HOBBY,
    LOCAL_SD,
    PROVIDER_FLUX2,
    Gateway,
    JobsWorld,
    open_gateway,
    sd_job,
)


async def _hold(gateway: Gateway, runner_id: str, paused: Any) -> Any:
    return await gateway.http.patch(
        f"/admin/runners/{runner_id}", json={"paused": paused}, headers=await gateway.admin()
    )


async def _fleet(gateway: Gateway) -> dict[str, dict[str, Any]]:
    answer = await gateway.http.get("/admin/fleet", headers=await gateway.admin())
    assert answer.status_code == 200, answer.text
    return {runner["id"]: runner for runner in answer.json()}


async def _until_paused(gateway: Gateway, paused: bool) -> None:
    """Wait until `gateway` has read the catalog change (its refresh runs in the background,
    slower on a loaded machine)."""
    async with asyncio.timeout(20):
        while (await _fleet(gateway))[LOCAL_SD]["paused"] is not paused:  # noqa: ASYNC110 - polls HTTP
            await asyncio.sleep(0.1)


async def _actions(gateway: Gateway, runner_id: str) -> list[str]:
    return [e["payload"]["action"] for e in await gateway.admin_changes(runner_id)]


async def test_a_paused_runner_queues_its_jobs_until_it_is_resumed(gateway: Gateway) -> None:
    paused = await _hold(gateway, LOCAL_SD, True)
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    again = await _hold(gateway, LOCAL_SD, True)  # already paused: nothing changes
    assert again.status_code == 200

    job = (await gateway.submit(sd_job(), tenant=HOBBY)).json()
    assert (job["status"], job["runner"]) == ("queued", LOCAL_SD)
    waited = await gateway.submit(sd_job(), Prefer="wait=1")
    assert waited.status_code == 202  # not run within its wait: the runner is held
    await asyncio.sleep(1.5)  # two lease renewals: still held
    assert (await gateway.get(f"/v1/jobs/{job['id']}", tenant=HOBBY)).json()["status"] == "queued"

    fleet = await _fleet(gateway)
    local = fleet[LOCAL_SD]
    assert (local["paused"], local["instance"], local["healthy"], local["queued"]) == (True, True, True, 2)
    assert local["device"] == "cpu (float32)"
    assert fleet[PROVIDER_FLUX2]["paused"] is False
    assert fleet[PROVIDER_FLUX2]["detail"] == "circuit closed"

    resumed = await _hold(gateway, LOCAL_SD, False)
    assert "paused" not in resumed.json()  # the default, omitted like every default of an entry
    done = await gateway.wait_for(job["id"], tenant=HOBBY)
    assert done["status"] == "succeeded"
    assert (await gateway.wait_for(waited.json()["id"]))["status"] == "succeeded"
    fleet = await _fleet(gateway)
    assert (fleet[LOCAL_SD]["paused"], fleet[LOCAL_SD]["queued"]) == (False, 0)
    assert fleet[LOCAL_SD]["warm_pipelines"]  # the pipeline it just ran stays loaded
    assert await _actions(gateway, LOCAL_SD) == ["runner.pause", "runner.resume"]


async def test_a_pause_holds_the_runner_in_every_gateway_process(
    jobs_world: JobsWorld, tmp_path: Path, jobs_database: str
) -> None:
    async with (
        open_gateway(jobs_world, tmp_path / "a", jobs_database, state_sync_seconds=0.2) as first,
        open_gateway(jobs_world, tmp_path / "b", jobs_database, state_sync_seconds=0.2) as second,
    ):
        assert (await _hold(first, LOCAL_SD, True)).status_code == 200
        await _until_paused(second, True)  # the second picks the catalog change up
        job = (await second.submit(sd_job())).json()
        assert job["status"] == "queued"
        await asyncio.sleep(1.5)
        assert (await second.get(f"/v1/jobs/{job['id']}")).json()["status"] == "queued"
        assert (await _fleet(second))[LOCAL_SD]["paused"] is True

        assert (await _hold(first, LOCAL_SD, False)).status_code == 200
        done = await second.wait_for(job["id"])  # the second's maintenance sees the resume
        assert done["status"] == "succeeded"


async def test_bad_pause_requests_are_problems(gateway: Gateway) -> None:
    for body in ({"paused": "yes"}, {}, {"paused": True, "enabled": False}):
        answer = await gateway.http.patch(
            f"/admin/runners/{LOCAL_SD}", json=body, headers=await gateway.admin()
        )
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    missing = await _hold(gateway, "no-such-runner", True)
    assert missing.status_code == 404
    tenant_token = await gateway.headers()
    refused = await gateway.http.patch(
        f"/admin/runners/{LOCAL_SD}", json={"paused": True}, headers=tenant_token
    )
    assert refused.status_code == 403
    assert (await gateway.http.get("/admin/fleet", headers=tenant_token)).status_code == 403
    assert (await _fleet(gateway))[LOCAL_SD]["paused"] is False


async def test_the_cli_pauses_and_resumes_a_runner_under_a_running_gateway(
    jobs_world: JobsWorld, tmp_path: Path
) -> None:
    async with open_gateway(jobs_world, tmp_path, state_sync_seconds=0.2) as gateway:
        paused = await gateway.cli(tmp_path, "runners", "pause", LOCAL_SD)
        assert paused.exit_code == 0, paused.output
        assert paused.output.strip() == f"runner {LOCAL_SD} paused"
        await gateway.get("/v1/jobs")  # a request starts the catalog refresh it is due
        await asyncio.sleep(0.5)
        job = (await gateway.submit(sd_job())).json()
        assert job["status"] == "queued"
        resumed = await gateway.cli(tmp_path, "runners", "resume", LOCAL_SD)
        assert resumed.exit_code == 0, resumed.output
        assert (await gateway.wait_for(job["id"]))["status"] == "succeeded"
        actions = await _actions(gateway, LOCAL_SD)
        assert actions == ["runner.pause", "runner.resume"]
        missing = await gateway.cli(tmp_path, "runners", "pause", "no-such-runner")
        assert missing.exit_code == 1
        assert "no-such-runner" in missing.output
