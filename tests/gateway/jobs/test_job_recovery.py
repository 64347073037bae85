"""Jobs whose gateway stopped: a graceful shutdown hands a local runner's running job back to the
queue and another gateway runs it from the start; a job left running by a process that died is
queued again on a local runner (at most `CLEARANCE_JOB_MAX_RESTARTS` times) and failed, with the
reason, on a provider's runner (its generation may already have been billed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import select

from registry.audit import EventKind
from registry.audit.tables import AuditEventRow
from registry.db.engine import create_engine, session_factory
from tests.gateway.jobs.conftest import (
    HOBBY,
    LOCAL_SD,
    PROVIDER_FLUX2,
    Gateway,
    JobsWorld,
    flux2_job,
    left_running,
    open_gateway,
    sd_job,
)


async def _requeued_events(database_url: str) -> list[dict[str, Any]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(
                select(AuditEventRow).where(AuditEventRow.kind == EventKind.JOB_REQUEUED)
            )
            return [{"job_id": row.job_id, "payload": row.payload} for row in rows]
    finally:
        await engine.dispose()


async def test_a_graceful_shutdown_hands_a_running_local_job_to_the_next_gateway(
    jobs_world: JobsWorld, tmp_path: Path, jobs_database: str
) -> None:
    url = jobs_database
    async with open_gateway(jobs_world, tmp_path / "a", url) as first:
        job = (await first.submit(sd_job(steps=100))).json()
        assert job["runner"] == LOCAL_SD
        await first.wait_for(job["id"], "running")
    # The first gateway stopped mid-job: the job is queued again, not failed, and the second
    # gateway's lease maintenance takes it over.
    async with open_gateway(jobs_world, tmp_path / "b", url) as second:
        handed_back = (await second.get(f"/v1/jobs/{job['id']}")).json()
        assert handed_back["status"] in ("queued", "running", "succeeded"), handed_back
        done = await second.wait_for(job["id"])
    assert done["status"] == "succeeded", done
    assert done["restarts"] == 0  # a shutdown is not the job's doing
    [event] = await _requeued_events(url)
    assert event["job_id"] == job["id"]
    assert '"reason":"the gateway shut down"' in event["payload"]


async def test_jobs_left_running_by_a_dead_gateway_run_again_on_local_runners_only(
    jobs_world: JobsWorld, tmp_path: Path, jobs_database: str
) -> None:
    async with open_gateway(jobs_world, tmp_path, jobs_database) as gateway:
        await _dead_gateway_jobs_recovered(gateway)


async def _dead_gateway_jobs_recovered(gateway: Gateway) -> None:
    local = (await gateway.submit(sd_job(steps=2), Prefer="wait=60")).json()
    provider = (await gateway.submit(flux2_job(), tenant=HOBBY, Prefer="wait=60")).json()
    assert (local["runner"], provider["runner"]) == (LOCAL_SD, PROVIDER_FLUX2)
    await left_running(gateway, local, "job_local_rerun", restarts=0)
    await left_running(gateway, local, "job_local_exhausted", restarts=1)
    await left_running(gateway, provider, "job_provider", restarts=0)

    # The gateway's lease maintenance (every lease/3 s) finds them and takes them over.
    rerun = await gateway.wait_for("job_local_rerun")
    assert (rerun["status"], rerun["restarts"]) == ("succeeded", 1)
    png = await gateway.get(rerun["images"][0])
    assert png.status_code == 200
    exhausted = await gateway.wait_for("job_local_exhausted")
    assert exhausted["status"] == "failed"
    assert exhausted["error"].endswith("not retried: it was already restarted 1 time(s)")
    billed = await gateway.wait_for("job_provider", tenant=HOBBY)
    assert billed["status"] == "failed"
    assert "stopped before it finished; not retried: a provider's runner" in billed["error"]
    events = await _requeued_events(gateway.settings.database_url)
    assert [e["job_id"] for e in events] == ["job_local_rerun"]
    assert '"restarts":1' in events[0]["payload"]
