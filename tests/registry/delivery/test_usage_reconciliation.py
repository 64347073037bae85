"""Usage reports reconciled with the audit log's job outcomes, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.audit import JobOutcome, append_in_session, job_outcome_event
from registry.delivery.licensor_usage import enqueue_usage_report
from registry.delivery.outbox import AttemptResult, claim_due, record_attempt
from registry.delivery.reconcile import UsageLine, reconcile_usage_reports
from registry.delivery.retry import RetrySchedule
from tests.support_delivery import migrated_sessions

NOW = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)
FLUX = "black-forest-labs/FLUX.2-dev"
SDXL = "stabilityai/sdxl-base-1.0"
REPORTABLE = {FLUX: "flux-2-dev"}


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    async with migrated_sessions(database_url) as factory:
        yield factory


async def _job(
    sessions: async_sessionmaker[AsyncSession],
    job_id: str,
    *,
    artifact: str = FLUX,
    images: int = 2,
    report: int | None = None,
) -> None:
    """One finished job: its outcome in the audit log and, when asked, its report in the same commit."""
    outcome = JobOutcome(
        job_id=job_id,
        status="succeeded",
        images=images,
        purpose="research",
        runner="local",
        artifacts=[artifact],
    )
    async with sessions() as session, session.begin():
        if report is not None:
            await enqueue_usage_report(
                session,
                job_id=job_id,
                tenant_id="acme",
                model_slug="flux-2-dev",
                number_of_generations=report,
                now=NOW,
            )
        await append_in_session(session, [job_outcome_event(outcome, tenant="acme")], clock=lambda: NOW)


async def test_reports_are_reconciled_with_outcomes(sessions: async_sessionmaker[AsyncSession]) -> None:
    await _job(sessions, "job_ok", report=2)
    await _job(sessions, "job_missing")
    await _job(sessions, "job_wrong", report=5)
    await _job(sessions, "job_sdxl", artifact=SDXL)
    await _job(sessions, "job_failed", images=0)
    async with sessions() as session, session.begin():
        await enqueue_usage_report(
            session,
            job_id="job_ghost",
            tenant_id="acme",
            model_slug="flux-2-dev",
            number_of_generations=1,
            now=NOW,
        )
    schedule = RetrySchedule(delays_s=(), jitter=0)
    for message in await claim_due(sessions, ["licensor_usage"], now=NOW):
        result = AttemptResult(status_code=200 if message.job_id == "job_ok" else 500)
        await record_attempt(sessions, message, result, now=NOW, schedule=schedule)

    async with sessions() as session:
        report = await reconcile_usage_reports(
            session, since=NOW - dt.timedelta(days=1), until=NOW + dt.timedelta(days=1), reportable=REPORTABLE
        )
    assert report.generated_total == 6
    assert report.delivered_total == 2
    assert [line.job_id for line in report.missing] == ["job_missing"]
    assert [(line.job_id, line.generated, line.reported) for line in report.count_mismatch] == [
        ("job_wrong", 2, 5)
    ]
    assert [line.job_id for line in report.given_up] == ["job_wrong"]
    assert report.pending == ()
    assert [line.job_id for line in report.unexpected] == ["job_ghost"]
    assert not report.balanced


async def test_an_undelivered_report_is_pending_and_a_delivered_one_balances(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _job(sessions, "job_1", report=2)
    window = {
        "since": NOW - dt.timedelta(hours=1),
        "until": NOW + dt.timedelta(hours=1),
        "reportable": REPORTABLE,
    }
    async with sessions() as session:
        before = await reconcile_usage_reports(session, **window)  # type: ignore[arg-type]
    assert before.pending == (
        UsageLine(
            job_id="job_1",
            model_slug="flux-2-dev",
            generated=2,
            reported=2,
            message_id=before.pending[0].message_id,
        ),
    )
    [message] = await claim_due(sessions, ["licensor_usage"], now=NOW)
    await record_attempt(sessions, message, AttemptResult(status_code=200), now=NOW, schedule=RetrySchedule())
    async with sessions() as session:
        after = await reconcile_usage_reports(session, **window)  # type: ignore[arg-type]
    assert after.balanced
    assert after.delivered_total == after.generated_total == 2
