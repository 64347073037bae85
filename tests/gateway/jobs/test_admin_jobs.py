"""`/admin/jobs` and `clearance jobs`: the operator lists every tenant's jobs and cancels any of
them, with a reason the tenant sees, audited; a cancel reaches the gateway process running the
job, from another process or from the CLI."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.jobs.conftest import (
    HOBBY,
    LOCAL_SD,
    PROVIDER_FLUX2,
    STUDIO,
    Gateway,
    JobsWorld,
    flux2_job,
    open_gateway,
    sd_job,
)


async def _cancels_recorded(gateway: Gateway, job_id: str) -> list[dict[str, Any]]:
    return [e for e in await gateway.admin_changes(job_id) if e["payload"]["action"] == "job.cancel"]


async def test_the_operator_lists_every_tenants_jobs_with_filters_and_pages(gateway: Gateway) -> None:
    studio = [(await gateway.submit(sd_job(), Prefer="wait=60")).json() for _ in range(2)]
    hobby = (await gateway.submit(sd_job(), tenant=HOBBY, Prefer="wait=60")).json()
    admin = await gateway.admin()

    listed = await gateway.http.get("/admin/jobs", headers=admin)
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [j["id"] for j in items] == [hobby["id"], studio[1]["id"], studio[0]["id"]]  # newest first
    assert [j["tenant_id"] for j in items] == [HOBBY, STUDIO, STUDIO]
    assert items[0]["status"] == "succeeded"
    assert items[0]["runner"] == LOCAL_SD
    assert items[0]["owner"] is None
    assert items[0]["cancel_requested"] is False
    assert items[0]["client_id"]

    only_hobby = (await gateway.http.get("/admin/jobs", params={"tenant": HOBBY}, headers=admin)).json()
    assert [j["id"] for j in only_hobby["items"]] == [hobby["id"]]
    none_running = await gateway.http.get("/admin/jobs", params={"status": "running"}, headers=admin)
    assert none_running.json()["items"] == []
    on_provider = await gateway.http.get("/admin/jobs", params={"runner": PROVIDER_FLUX2}, headers=admin)
    assert on_provider.json()["items"] == []

    first = (await gateway.http.get("/admin/jobs", params={"limit": 2}, headers=admin)).json()
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = await gateway.http.get(
        "/admin/jobs", params={"limit": 2, "cursor": first["next_cursor"]}, headers=admin
    )
    assert [j["id"] for j in rest.json()["items"]] == [studio[0]["id"]]
    assert rest.json()["next_cursor"] is None

    later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)).isoformat()
    window = await gateway.http.get("/admin/jobs", params={"since": later}, headers=admin)
    assert window.json()["items"] == []
    until = await gateway.http.get("/admin/jobs", params={"until": later, "limit": 100}, headers=admin)
    assert len(until.json()["items"]) == 3

    one = await gateway.http.get(f"/admin/jobs/{hobby['id']}", headers=admin)
    assert one.status_code == 200
    assert one.json()["tenant_id"] == HOBBY
    assert one.json()["parameters"] == hobby["parameters"]


async def test_bad_admin_job_queries_are_problems_and_tenants_are_refused(gateway: Gateway) -> None:
    admin = await gateway.admin()
    for params, needle in (
        ({"status": "done"}, "not a job status"),
        ({"since": "2026-01-01T00:00:00"}, "since"),
        ({"cursor": "not-a-cursor"}, "cursor"),
    ):
        refused = await gateway.http.get("/admin/jobs", params=params, headers=admin)
        assert refused.status_code == 400, (params, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert needle in refused.text, refused.text
    zero = await gateway.http.get("/admin/jobs", params={"limit": "0"}, headers=admin)
    assert zero.status_code == 422
    assert zero.json()["errors"][0]["field"] == "limit"
    missing = await gateway.http.get("/admin/jobs/no-such-job", headers=admin)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    cancel_missing = await gateway.http.post("/admin/jobs/no-such-job/cancel", headers=admin)
    assert cancel_missing.status_code == 404
    too_long = await gateway.http.post(
        "/admin/jobs/no-such-job/cancel", json={"reason": "x" * 201}, headers=admin
    )
    assert too_long.status_code == 422, too_long.text
    unknown_field = await gateway.http.post(
        "/admin/jobs/no-such-job/cancel", json={"tenant_id": HOBBY}, headers=admin
    )
    assert unknown_field.status_code == 422
    tenant_token = await gateway.headers(STUDIO, "jobs:read jobs:write")
    assert (await gateway.http.get("/admin/jobs", headers=tenant_token)).status_code == 403
    assert (await gateway.http.post("/admin/jobs/x/cancel", headers=tenant_token)).status_code == 403


async def test_the_operator_cancels_a_queued_job_with_a_reason_the_tenant_sees(gateway: Gateway) -> None:
    gateway.pool.pause(LOCAL_SD)
    try:
        queued = (await gateway.submit(sd_job(), tenant=HOBBY)).json()
        admin = await gateway.admin()
        running = (await gateway.http.get("/admin/jobs", params={"status": "queued"}, headers=admin)).json()
        assert [j["id"] for j in running["items"]] == [queued["id"]]
        assert running["items"][0]["owner"] == gateway.jobs.executor.owner  # type: ignore[union-attr]

        answer = await gateway.http.post(
            f"/admin/jobs/{queued['id']}/cancel", json={"reason": "runner maintenance"}, headers=admin
        )
        assert answer.status_code == 202, answer.text
        canceled = answer.json()
        assert canceled["status"] == "canceled"
        assert canceled["error"] == "canceled by the operator: runner maintenance"
        assert (canceled["cancel_requested"], canceled["cancel_reason"]) == (True, "runner maintenance")
        seen = (await gateway.get(f"/v1/jobs/{queued['id']}", tenant=HOBBY)).json()
        assert (seen["status"], seen["error"]) == ("canceled", "canceled by the operator: runner maintenance")

        recorded = await _cancels_recorded(gateway, queued["id"])
        assert len(recorded) == 1
        assert recorded[0]["tenant"] == HOBBY
        assert recorded[0]["payload"]["before"] == {"status": "queued"}
        assert recorded[0]["payload"]["after"]["reason"] == "runner maintenance"

        again = await gateway.http.post(f"/admin/jobs/{queued['id']}/cancel", headers=admin)
        assert again.status_code == 202
        assert again.json()["status"] == "canceled"
        assert len(await _cancels_recorded(gateway, queued["id"])) == 1  # an ended job: nothing changed
    finally:
        gateway.pool.pause(LOCAL_SD, False)


async def test_a_running_job_canceled_by_the_operator_stops_and_its_tenant_cancel_says_the_client(
    jobs_world: JobsWorld, gateway: Gateway
) -> None:
    provider = jobs_world.provider
    provider.gate.clear()
    try:
        held = (await gateway.submit(flux2_job(), tenant=HOBBY)).json()
        assert held["runner"] == PROVIDER_FLUX2
        await gateway.wait_for(held["id"], "running", tenant=HOBBY)
        answer = await gateway.http.post(f"/admin/jobs/{held['id']}/cancel", headers=await gateway.admin())
        assert answer.status_code == 202, answer.text
        ended = await gateway.wait_for(held["id"], tenant=HOBBY)
        assert (ended["status"], ended["error"]) == ("canceled", "canceled by the operator")
    finally:
        provider.gate.set()
    gateway.pool.pause(LOCAL_SD)
    try:  # the tenant's own cancel keeps its wording
        queued = (await gateway.submit(sd_job())).json()
        own = await gateway.http.post(queued["links"]["cancel"], headers=await gateway.headers())
        assert (own.json()["status"], own.json()["error"]) == ("canceled", "canceled by the client")
    finally:
        gateway.pool.pause(LOCAL_SD, False)


async def test_a_cancel_reaches_the_gateway_running_the_job_from_another_and_from_the_cli(
    jobs_world: JobsWorld, tmp_path: Path, jobs_database: str
) -> None:
    async with (
        open_gateway(jobs_world, tmp_path / "a", jobs_database) as first,
        open_gateway(jobs_world, tmp_path / "b", jobs_database) as second,
    ):
        first.pool.pause(LOCAL_SD)  # the session's local runners are shared: paused for both
        try:
            by_api = (await first.submit(sd_job(), tenant=HOBBY)).json()
            by_cli = (await first.submit(sd_job(), tenant=HOBBY)).json()
            answer = await second.http.post(
                f"/admin/jobs/{by_api['id']}/cancel", json={"reason": "abuse"}, headers=await second.admin()
            )
            assert answer.status_code == 202, answer.text
            assert (answer.json()["status"], answer.json()["cancel_requested"]) == ("queued", True)
            ended = await first.wait_for(by_api["id"], tenant=HOBBY)  # at the first's lease renewal
            assert (ended["status"], ended["error"]) == ("canceled", "canceled by the operator: abuse")

            listed = await first.cli(
                tmp_path, "jobs", "list", "--tenant", HOBBY, "--status", "queued", "--json"
            )
            assert listed.exit_code == 0, listed.output
            assert [j["id"] for j in json.loads(listed.output)["items"]] == [by_cli["id"]]
            canceled = await first.cli(
                tmp_path, "jobs", "cancel", by_cli["id"], "--reason", "tenant asked support"
            )
            assert canceled.exit_code == 0, canceled.output
            assert "cancel requested" in canceled.output
            ended = await first.wait_for(by_cli["id"], tenant=HOBBY)
            assert ended["error"] == "canceled by the operator: tenant asked support"
            recorded = await _cancels_recorded(first, by_cli["id"])
            assert [e["actor_subject"].startswith("cli:") for e in recorded] == [True]

            shown = await first.cli(tmp_path, "jobs", "show", by_cli["id"])
            assert json.loads(shown.output)["status"] == "canceled"
            again = await first.cli(tmp_path, "jobs", "cancel", by_cli["id"])
            assert "already ended: canceled" in again.output
        finally:
            first.pool.pause(LOCAL_SD, False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("show", "no-such-job"), "no job 'no-such-job'"),
        (("cancel", "no-such-job"), "no job 'no-such-job'"),
        (("cancel", "x", "--reason", "r" * 201), "at most 200 characters"),
        (("list", "--since", "2026-01-01"), "give a time zone"),
        (("list", "--since", "yesterday"), "not an ISO 8601 instant"),
        (("list", "--cursor", "nonsense"), "cursor is not one this API gave out"),
        (("list", "--status", "done"), "'done' is not one of"),
    ],
)
async def test_the_jobs_cli_refuses_bad_input_precisely(
    gateway: Gateway, tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    result = await gateway.cli(tmp_path, "jobs", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
