"""Metrics move as a user of the API would see: a finished job counts as admitted and ended on its
runner with its status and run time, a refusal counts under its problem type, and requests are
counted under their route template."""

from __future__ import annotations

import datetime as dt

from tests.gateway.jobs.conftest import (
    HOBBY,
    LOCAL_FLUX2,
    LOCAL_SD,
    PROVIDER_FLUX2,
    STUDIO,
    TINY_FLUX2_TURBO,
    Gateway,
    flux2_job,
    left_running,
    sd_job,
)
from tests.gateway.metrics.conftest import scrape, value


async def test_a_finished_job_counts_as_admitted_and_ended_on_its_runner(metered: Gateway) -> None:
    before = await scrape(metered)
    job = (await metered.submit(flux2_job(), tenant=STUDIO, Prefer="wait=60")).json()
    assert (job["status"], job["runner"]) == ("succeeded", LOCAL_FLUX2), job
    after = await scrape(metered)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("clearance_jobs_admitted_total", runner=LOCAL_FLUX2) == 1
    assert moved("clearance_jobs_ended_total", runner=LOCAL_FLUX2, status="succeeded") == 1
    assert moved("clearance_jobs_ended_total", runner=LOCAL_FLUX2, status="failed") == 0
    assert moved("clearance_job_run_seconds_count", runner=LOCAL_FLUX2) == 1
    assert moved("clearance_job_run_seconds_sum", runner=LOCAL_FLUX2) > 0
    assert moved("clearance_jobs_admitted_total", runner=PROVIDER_FLUX2) == 0
    # read at scrape time: nothing left queued or running, the runner answered its health check
    assert value(after, "clearance_runner_jobs_queued", runner=LOCAL_FLUX2) == 0
    assert value(after, "clearance_runner_jobs_running", runner=LOCAL_FLUX2) == 0
    assert value(after, "clearance_runner_healthy", runner=LOCAL_FLUX2) == 1
    assert value(after, "clearance_runner_paused", runner=LOCAL_FLUX2) == 0


async def test_jobs_that_never_start_end_canceled_or_aborted(metered: Gateway) -> None:
    metered.pool.pause(LOCAL_SD)  # jobs wait in its queue
    job = (await metered.submit(sd_job())).json()
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)).isoformat()
    late = (await metered.submit(sd_job(deadline=soon))).json()
    queued = await scrape(metered)
    assert value(queued, "clearance_runner_jobs_queued", runner=LOCAL_SD) == 2
    assert value(queued, "clearance_runner_paused", runner=LOCAL_SD) == 1
    assert value(queued, "clearance_jobs_admitted_total", runner=LOCAL_SD) == 2
    canceled = await metered.http.post(job["links"]["cancel"], headers=await metered.headers())
    assert canceled.json()["status"] == "canceled"
    assert (await metered.wait_for(late["id"]))["status"] == "aborted"
    after = await scrape(metered)
    assert value(after, "clearance_jobs_ended_total", runner=LOCAL_SD, status="canceled") == 1
    assert value(after, "clearance_jobs_ended_total", runner=LOCAL_SD, status="aborted") == 1
    assert value(after, "clearance_runner_jobs_queued", runner=LOCAL_SD) == 0
    assert value(after, "clearance_job_run_seconds_count", runner=LOCAL_SD) == 0  # neither started


async def test_the_provider_runner_reports_its_circuit(metered: Gateway) -> None:
    samples = await scrape(metered)
    assert value(samples, "clearance_runner_circuit_open", runner=PROVIDER_FLUX2) == 0
    assert ("clearance_runner_circuit_open", frozenset({("runner", LOCAL_FLUX2)})) not in samples


async def test_a_license_denial_counts_under_its_problem_type(metered: Gateway) -> None:
    body = flux2_job(adapters=[{"id": TINY_FLUX2_TURBO}])  # no permitted runner for the hobby tenant
    response = await metered.submit(body, tenant=HOBBY)
    assert response.status_code == 403
    samples = await scrape(metered)
    assert value(samples, "clearance_http_problems_total", problem="license-denied", status="403") == 1
    assert value(samples, "clearance_http_requests_total", method="POST", route="/v1/jobs", status="403") == 1


async def test_requests_are_counted_under_their_route_template(metered: Gateway) -> None:
    headers = await metered.headers(STUDIO)
    for job_id in ("job_a", "job_b", "job_c"):
        assert (await metered.http.get(f"/v1/jobs/{job_id}", headers=headers)).status_code == 404
    assert (await metered.http.get("/v1/jobs/job_a")).status_code == 401  # the bearer middleware's answer
    assert (await metered.http.get("/no/such/path")).status_code == 404
    samples = await scrape(metered)
    route = "/v1/jobs/{job_id}"
    assert value(samples, "clearance_http_requests_total", method="GET", route=route, status="404") == 3
    assert value(samples, "clearance_http_requests_total", method="GET", route=route, status="401") == 1
    assert value(samples, "clearance_http_request_duration_seconds_count", method="GET", route=route) == 4
    assert value(samples, "clearance_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert (
        value(samples, "clearance_http_problems_total", problem="authentication-required", status="401") == 1
    )
    assert not any(
        name == "clearance_http_requests_total" and ("route", "/v1/jobs/job_a") in labels
        for name, labels in samples
    )


async def test_a_job_taken_over_from_a_stopped_gateway_counts_as_recovered(metered: Gateway) -> None:
    done = (await metered.submit(sd_job(steps=2), Prefer="wait=60")).json()
    before = await scrape(metered)
    await left_running(metered, done, "job_left_by_a_dead_gateway", restarts=0)
    # as the lease maintenance would, soon; on the app's own loop (the test client's portal),
    # where its job writer and catalog cache live
    metered.http.blocking_portal.call(metered.jobs.executor.maintain_once)
    rerun = await metered.wait_for("job_left_by_a_dead_gateway")
    assert (rerun["status"], rerun["restarts"]) == ("succeeded", 1)
    after = await scrape(metered)
    assert (
        value(after, "clearance_jobs_recovered_total", runner=LOCAL_SD)
        - value(before, "clearance_jobs_recovered_total", runner=LOCAL_SD)
        == 1
    )
    assert value(after, "clearance_jobs_admitted_total", runner=LOCAL_SD) == value(
        before, "clearance_jobs_admitted_total", runner=LOCAL_SD
    )
