"""GET /v1/audit (own tenant, cursor pages, filters), /admin/audit, verify, export, usage."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from registry.audit import JobOutcome, append_in_session, job_outcome_event
from registry.db.engine import create_engine, session_factory
from tests.gateway.api.conftest import ACME, GLOBEX, SCHNELL, Api


async def _record_jobs(api: Api, tenant: str, count: int) -> None:
    engine = create_engine(api.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            await append_in_session(
                session,
                [
                    job_outcome_event(
                        JobOutcome(
                            job_id=f"{tenant}-job-{i}",
                            status="succeeded",
                            images=2,
                            purpose="commercial_product",
                            runner="op-gpu",
                            artifacts=[SCHNELL],
                            licenses=["apache-2.0@2.0"],
                        ),
                        tenant=tenant,
                    )
                    for i in range(count)
                ],
            )
            await session.commit()
    finally:
        await engine.dispose()


async def test_tenant_audit_pages_with_a_cursor_and_filters(api: Api) -> None:
    await _record_jobs(api, ACME, 5)
    await _record_jobs(api, GLOBEX, 3)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await api.call("GET", "/v1/audit", scopes="audit:read", params=params)
        assert page.status_code == 200, page.text
        seen += [e["job_id"] for e in page.json()["events"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"{ACME}-job-{i}" for i in range(5)]
    one = await api.call("GET", "/v1/audit", scopes="audit:read", params={"job_id": "acme-job-3"})
    assert [e["payload"]["images"] for e in one.json()["events"]] == [2]
    foreign = await api.call("GET", "/v1/audit", scopes="audit:read", params={"job_id": "globex-job-1"})
    assert foreign.json()["events"] == []
    newest = await api.call(
        "GET", "/v1/audit", scopes="audit:read", params={"newest_first": "true", "limit": "1"}
    )
    assert newest.json()["events"][0]["job_id"] == "acme-job-4"
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat()
    assert (await api.call("GET", "/v1/audit", scopes="audit:read", params={"since": future})).json()[
        "events"
    ] == []
    for bad in ({"cursor": "garbage"}, {"since": "2026-01-01T00:00:00"}, {"limit": "0"}):
        refused = await api.call("GET", "/v1/audit", scopes="audit:read", params=bad)
        assert refused.status_code in (400, 422), (bad, refused.text)
    assert (await api.call("GET", "/v1/audit", scopes="models:read")).status_code == 403


async def test_admin_audit_verify_export_and_usage(api: Api) -> None:
    await _record_jobs(api, ACME, 2)
    await _record_jobs(api, GLOBEX, 1)
    headers = await api.admin()
    everything = await api.http.get("/admin/audit", headers=headers, params={"kind": "job.outcome"})
    assert {e["tenant"] for e in everything.json()["events"]} == {ACME, GLOBEX}
    only = await api.http.get("/admin/audit", headers=headers, params={"tenant": GLOBEX})
    assert [e["tenant"] for e in only.json()["events"]] == [GLOBEX]

    verify = await api.http.get("/admin/audit/verify", headers=headers)
    assert verify.json()["ok"] is True
    assert verify.json()["events_checked"] == 3

    jsonl = await api.http.get("/admin/audit/export", headers=headers, params={"format": "jsonl"})
    assert jsonl.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3]
    assert lines[0]["payload"]["job_id"] == "acme-job-0"
    as_csv = await api.http.get(
        "/admin/audit/export", headers=headers, params={"format": "csv", "tenant": ACME}
    )
    assert as_csv.headers["content-type"] == "text/csv; charset=utf-8"  # one charset, not two
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["job_id"] for row in rows] == ["acme-job-0", "acme-job-1"]
    assert (
        await api.http.get("/admin/audit/export", headers=headers, params={"format": "xml"})
    ).status_code in (400, 422)

    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    usage = await api.http.get("/admin/reports/usage", headers=headers, params={"month": month})
    assert usage.status_code == 200, usage.text
    assert usage.json()["total"]["images"] == 6
    assert usage.json()["tenants"][ACME]["images"] == 4
    bad = await api.http.get("/admin/reports/usage", headers=headers, params={"month": "2026-13"})
    assert bad.status_code == 400
    assert "YYYY-MM" in bad.json()["detail"]
