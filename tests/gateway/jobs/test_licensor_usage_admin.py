"""The operator's licensor usage reconciliation (`GET /admin/reports/licensor-usage`, `clearance
audit licensor-usage`) and the redrive of a report given up (`POST /admin/deliveries/{id}/retry`),
end to end: a job whose decision obliges usage metering, its report never delivered (no licensor
key configured here), listed, retried once more, audited."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import update

from registry.db.engine import create_engine
from registry.delivery.tables import OutboxMessageRow
from tests.gateway.jobs.conftest import LOCAL_FLUX2, STUDIO, Gateway, JobsWorld, flux2_job, open_gateway


async def _reconciliation(gateway: Gateway, month: str) -> dict[str, Any]:
    answer = await gateway.http.get(
        "/admin/reports/licensor-usage", params={"month": month}, headers=await gateway.admin()
    )
    assert answer.status_code == 200, answer.text
    report: dict[str, Any] = answer.json()
    return report


async def _given_up(gateway: Gateway, month: str, job_id: str) -> dict[str, Any]:
    for _ in range(300):  # two attempts (the schedule below), the second at the worker's next poll
        report = await _reconciliation(gateway, month)
        lines = [line for line in report["given_up"] if line["job_id"] == job_id]
        if lines:
            return lines[0]
        await asyncio.sleep(0.1)
    raise AssertionError(f"the report of {job_id} was never given up: {report}")


async def test_a_report_given_up_is_listed_retried_and_audited(
    jobs_world: JobsWorld, tmp_path: Path, jobs_database: str
) -> None:
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    async with open_gateway(jobs_world, tmp_path, jobs_database, delivery_retry_schedule="1") as gateway:
        job = (await gateway.submit(flux2_job(), tenant=STUDIO, Prefer="wait=60")).json()
        assert (job["status"], job["runner"]) == ("succeeded", LOCAL_FLUX2)
        assert any(o["kind"] == "usage_metering" for o in job["decision"]["obligations"])

        line = await _given_up(gateway, month, job["id"])
        assert (line["model_slug"], line["generated"], line["reported"]) == ("flux-2-dev", 1, 1)
        report = await _reconciliation(gateway, month)
        assert report["balanced"] is False
        assert (report["generated_total"], report["delivered_total"]) == (1, 0)
        assert report["missing"] == report["count_mismatch"] == report["unexpected"] == []

        cli = await gateway.cli(tmp_path, "audit", "licensor-usage", "--month", month)
        assert cli.exit_code == 1, cli.output
        assert "NOT BALANCED" in cli.output
        assert f"given up (retries exhausted): job {job['id']} model flux-2-dev" in cli.output
        as_json = await gateway.cli(tmp_path, "audit", "licensor-usage", "--month", month, "--json")
        assert json.loads(as_json.output)["given_up"][0]["message_id"] == line["message_id"]

        admin = await gateway.admin()
        message = (await gateway.http.get(f"/admin/deliveries/{line['message_id']}", headers=admin)).json()
        assert message["attempts"] == 2
        assert "no API key configured for licensor 'bfl'" in message["last_error"]
        retried = await gateway.http.post(f"/admin/deliveries/{line['message_id']}/retry", headers=admin)
        assert retried.status_code == 202, retried.text
        for _ in range(100):  # one more attempt, at once
            message = (
                await gateway.http.get(f"/admin/deliveries/{line['message_id']}", headers=admin)
            ).json()
            if message["attempts"] == 3 and message["gave_up_at"]:
                break
            await asyncio.sleep(0.1)
        assert (message["attempts"], len(message["log"])) == (3, 3)
        assert message["gave_up_at"] is not None  # the key is still missing: given up again

        events = await gateway.http.get(
            "/admin/audit", params={"kind": "admin.change", "limit": 1000}, headers=admin
        )
        retries = [e for e in events.json()["events"] if e["payload"]["action"] == "delivery.retry"]
        assert [(e["payload"]["target"], e["tenant"]) for e in retries] == [(line["message_id"], STUDIO)]
        assert retries[0]["payload"]["before"] == {"kind": "licensor_usage", "gave_up": True}

        engine = create_engine(gateway.settings.database_url)
        try:  # as if the licensor had answered 2xx: the reconciliation balances, a retry is refused
            async with engine.begin() as connection:
                await connection.execute(
                    update(OutboxMessageRow)
                    .where(OutboxMessageRow.id == line["message_id"])
                    .values(delivered_at=dt.datetime.now(dt.UTC), gave_up_at=None, next_attempt_at=None)
                )
        finally:
            await engine.dispose()
        assert (await _reconciliation(gateway, month))["balanced"] is True
        balanced = await gateway.cli(tmp_path, "audit", "licensor-usage", "--month", month)
        assert balanced.exit_code == 0, balanced.output
        assert "1 images owe reports, 1 reported and delivered: balanced" in balanced.output
        again = await gateway.http.post(f"/admin/deliveries/{line['message_id']}/retry", headers=admin)
        assert again.status_code == 409, again.text
        assert again.headers["content-type"].startswith("application/problem+json")


async def test_bad_reconciliation_and_delivery_requests(gateway: Gateway, tmp_path: Path) -> None:
    admin = await gateway.admin()
    for month in ("2026-13", "november", "9999-12"):
        refused = await gateway.http.get(
            "/admin/reports/licensor-usage", params={"month": month}, headers=admin
        )
        assert refused.status_code == 400, (month, refused.text)
        assert "month" in refused.json()["detail"]
    missing = await gateway.http.post("/admin/deliveries/msg_nope/retry", headers=admin)
    assert missing.status_code == 404
    assert "no delivery 'msg_nope'" in missing.json()["detail"]
    assert (await gateway.http.get("/admin/deliveries/msg_nope", headers=admin)).status_code == 404
    tenant_token = await gateway.headers()
    assert (
        await gateway.http.post("/admin/deliveries/msg_nope/retry", headers=tenant_token)
    ).status_code == 403
    bad_month = await gateway.cli(tmp_path, "audit", "licensor-usage", "--month", "2026-13")
    assert bad_month.exit_code == 2
    assert "is not YYYY-MM" in bad_month.output
    quiet = await gateway.cli(tmp_path, "audit", "licensor-usage", "--month", "2001-01")
    assert quiet.exit_code == 0, quiet.output  # nothing owed, nothing reported: balanced
