"""Reading the log: filters and cursor pages, JSONL/CSV export, monthly usage from job outcomes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import (
    AuditLog,
    EventQuery,
    InvalidCursorError,
    JobOutcome,
    NewEvent,
    job_outcome_event,
    monthly_usage,
    query_events,
)
from registry.audit.export import export_events


class Clock:
    def __init__(self, *moments: dt.datetime) -> None:
        self.moments = list(moments)

    def __call__(self) -> dt.datetime:
        return self.moments.pop(0) if len(self.moments) > 1 else self.moments[0]


def _outcome(job: str, *, images: int, purpose: str, runner: str, status: str = "succeeded") -> JobOutcome:
    return JobOutcome(
        job_id=job,
        status=status,
        images=images,
        purpose=purpose,
        runner=runner,
        artifacts=["flux2-dev", "flux2-dev-turbo-lora"],
        licenses=["flux-dev-nc@2.0"],
        agreements=["bfl-commercial-acme"] if purpose == "commercial_product" else [],
    )


async def test_filters_and_cursor_pages(audit_engine: AsyncEngine) -> None:
    async with AuditLog(audit_engine) as log:
        for i in range(25):
            await log.append(
                NewEvent(
                    kind="job.outcome" if i % 2 else "policy.decision", tenant=f"t{i % 3}", job_id=f"job-{i}"
                )
            )
    seen: list[int] = []
    query = EventQuery(tenant="t1", limit=3)
    async with audit_engine.connect() as connection:
        while True:
            page = await query_events(connection, query)
            seen += [event.seq for event in page.events]
            if page.next_cursor is None:
                break
            query = EventQuery(tenant="t1", limit=3, cursor=page.next_cursor)
        assert seen == [i + 1 for i in range(25) if i % 3 == 1]
        newest = await query_events(connection, EventQuery(kind="job.outcome", limit=2, newest_first=True))
        assert [event.seq for event in newest.events] == [24, 22]
        older = await query_events(
            connection, EventQuery(kind="job.outcome", limit=2, newest_first=True, cursor=newest.next_cursor)
        )
        assert [event.seq for event in older.events] == [20, 18]
        by_job = await query_events(connection, EventQuery(job_id="job-7"))
        assert [event.seq for event in by_job.events] == [8]
        with pytest.raises(InvalidCursorError):
            await query_events(connection, EventQuery(cursor="garbage"))
        with pytest.raises(ValueError, match="limit"):
            await query_events(connection, EventQuery(limit=0))


async def test_time_range_export_in_jsonl_and_csv(audit_engine: AsyncEngine) -> None:
    days = [dt.datetime(2026, 3, d, 12, tzinfo=dt.UTC) for d in (1, 2, 3, 4)]
    async with AuditLog(audit_engine, clock=Clock(*days)) as log:
        for i in range(4):
            await log.append(
                NewEvent(kind="admin.change", tenant="acme" if i else "other", payload={"i": i, "é": "ü"})
            )
    out = io.StringIO()
    written = await export_events(
        audit_engine, out, since=dt.datetime(2026, 3, 1, tzinfo=dt.UTC), until=days[3], tenant="acme"
    )
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert written == 2
    assert [(line["seq"], line["payload"]["i"], line["recorded_at"]) for line in lines] == [
        (2, 1, "2026-03-02T12:00:00.000000Z"),
        (3, 2, "2026-03-03T12:00:00.000000Z"),
    ]
    assert len(lines[0]["chain_hash"]) == 64
    out = io.StringIO()
    assert await export_events(audit_engine, out, fmt="csv") == 4
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [row["seq"] for row in rows] == ["1", "2", "3", "4"]
    assert json.loads(rows[3]["payload"]) == {"i": 3, "é": "ü"}


async def test_monthly_usage_per_tenant_license_agreement_and_artifact(audit_engine: AsyncEngine) -> None:
    march, april = dt.datetime(2026, 3, 31, 23, 59, tzinfo=dt.UTC), dt.datetime(2026, 4, 1, tzinfo=dt.UTC)
    async with AuditLog(audit_engine, clock=Clock(march, march, march, march, april)) as log:
        await log.append(
            job_outcome_event(_outcome("j1", images=4, purpose="research", runner="local"), tenant="uni")
        )
        await log.append(
            job_outcome_event(
                _outcome("j2", images=2, purpose="commercial_product", runner="fal"),
                tenant="acme",
                decision_id="d2",
            )
        )
        await log.append(
            job_outcome_event(
                _outcome("j3", images=0, purpose="research", runner="local", status="failed"), tenant="uni"
            )
        )
        await log.append(NewEvent(kind="policy.decision", tenant="uni"))
        await log.append(
            job_outcome_event(_outcome("j4", images=9, purpose="research", runner="local"), tenant="uni")
        )
    async with audit_engine.connect() as connection:
        usage = await monthly_usage(connection, 2026, 3)
        only_acme = await monthly_usage(connection, 2026, 3, tenant="acme")
    assert usage.month == "2026-03"
    assert (usage.total.jobs, usage.total.images) == (3, 6)
    assert usage.tenants["uni"].jobs_by_status == {"succeeded": 1, "failed": 1}
    assert usage.tenants["uni"].images_by_runner == {"local": 4}
    assert usage.licenses["flux-dev-nc@2.0"].images_by_purpose == {"research": 4, "commercial_product": 2}
    assert usage.agreements == {"bfl-commercial-acme": usage.tenants["acme"]}
    assert usage.artifacts["flux2-dev-turbo-lora"].images == 6
    assert list(only_acme.tenants) == ["acme"]
