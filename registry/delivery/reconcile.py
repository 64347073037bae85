"""Reconcile licensor usage reports with the audit log.

The audit log's `job.outcome` events are the record of what was generated (tamper-evident); the
outbox holds what was (or is being) reported to the licensor. For a time window this finds the
jobs whose usage was never queued, queued with the wrong count, not yet delivered, given up, or
reported without a matching outcome — the list an operator needs before a licensor's audit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.audit.events import EventKind
from registry.audit.query import MAX_PAGE, EventQuery, iterate_events
from registry.audit.tables import AuditEventRow
from registry.audit.usage import JobOutcome
from registry.delivery.licensor_usage import LICENSOR_USAGE_KIND, UsagePayload, parse_usage_url
from registry.delivery.tables import OutboxMessageRow
from registry.vocabulary import ObligationKind


class UsageLine(msgspec.Struct, kw_only=True, frozen=True):
    job_id: str
    model_slug: str
    generated: int
    """Images per the audit log (0 when the log has no outcome for the job)."""
    reported: int
    """`number_of_generations` in the outbox message (0 when none was queued)."""
    message_id: str | None = None


class UsageReconciliation(msgspec.Struct, kw_only=True, frozen=True):
    since: dt.datetime
    until: dt.datetime
    generated_total: int
    delivered_total: int
    missing: tuple[UsageLine, ...]
    """Generated but never queued for reporting."""
    count_mismatch: tuple[UsageLine, ...]
    pending: tuple[UsageLine, ...]
    """Queued, not delivered yet (retries under way)."""
    given_up: tuple[UsageLine, ...]
    """Queued, retries exhausted: needs an operator."""
    unexpected: tuple[UsageLine, ...]
    """Reported (or queued) for a job with no matching outcome in the window."""
    balanced: bool
    """Every report owed was delivered with the right count, and nothing else was reported."""


class _Decided(msgspec.Struct):
    decision: _Obligations


class _Obligations(msgspec.Struct):
    obligations: list[_Obligation] = []


class _Obligation(msgspec.Struct):
    kind: str
    url: str | None = None


_DECIDED = msgspec.json.Decoder(_Decided)
_JOBS_PER_QUERY = 500


async def _metered_slugs(session: AsyncSession, job_ids: Sequence[str]) -> dict[str, list[str]]:
    """Per job, the licensor model slugs its recorded decision obliges it to report usage to."""
    owed: dict[str, list[str]] = {}
    for start in range(0, len(job_ids), _JOBS_PER_QUERY):
        chunk = job_ids[start : start + _JOBS_PER_QUERY]
        rows = await session.execute(
            select(AuditEventRow.job_id, AuditEventRow.payload)
            .where(AuditEventRow.kind == EventKind.POLICY_DECISION.value, AuditEventRow.job_id.in_(chunk))
            .order_by(AuditEventRow.seq)
        )
        for job_id, payload in rows:
            if job_id is None:
                continue
            slugs: list[str] = []
            for obligation in _DECIDED.decode(payload).decision.obligations:
                if obligation.kind != ObligationKind.USAGE_METERING.value:
                    continue
                endpoint = parse_usage_url(obligation.url or "")
                if endpoint is not None and endpoint[1] not in slugs:
                    slugs.append(endpoint[1])
            owed[job_id] = slugs  # the last decision recorded for the job is the one it ran on
    return owed


async def reconcile_usage_reports(
    session: AsyncSession,
    *,
    since: dt.datetime,
    until: dt.datetime,
    reportable: Mapping[str, str] | None = None,
    tenant: str | None = None,
) -> UsageReconciliation:
    """Compare outcomes in [since, until) with the licensor usage messages of those jobs.

    Which reports a job owes: by default what its decision said, as the audit log recorded it
    (the `policy.decision` event of the job: its usage-metering obligations with a licensor
    endpoint, exactly what the gateway enqueues on success). `reportable` instead maps an
    artifact id (as in `JobOutcome.artifacts`) to the licensor's model slug, for callers that
    know which artifacts are metered.
    """
    outcomes: list[JobOutcome] = []
    decoder = msgspec.json.Decoder(JobOutcome)
    query = EventQuery(kind=EventKind.JOB_OUTCOME, tenant=tenant, since=since, until=until, limit=MAX_PAGE)
    async for event in iterate_events(session, query):
        outcome = decoder.decode(event.payload)
        if outcome.images > 0:
            outcomes.append(outcome)
    owed = (
        await _metered_slugs(session, [o.job_id for o in outcomes])
        if reportable is None
        else {o.job_id: [s for a in dict.fromkeys(o.artifacts) if (s := reportable.get(a))] for o in outcomes}
    )
    expected: dict[tuple[str, str], int] = {}
    for outcome in outcomes:
        for slug in owed.get(outcome.job_id, ()):
            key = (outcome.job_id, slug)
            expected[key] = expected.get(key, 0) + outcome.images

    job_ids = {job_id for job_id, _ in expected}
    rows_query = select(OutboxMessageRow).where(OutboxMessageRow.kind == LICENSOR_USAGE_KIND)
    window = (OutboxMessageRow.created_at >= since) & (OutboxMessageRow.created_at < until)
    rows_query = rows_query.where(window | OutboxMessageRow.job_id.in_(job_ids) if job_ids else window)
    if tenant is not None:
        rows_query = rows_query.where(OutboxMessageRow.tenant_id == tenant)
    rows = (await session.scalars(rows_query)).all()

    payload_decoder = msgspec.json.Decoder(UsagePayload)
    missing: list[UsageLine] = []
    mismatch: list[UsageLine] = []
    pending: list[UsageLine] = []
    given_up: list[UsageLine] = []
    unexpected: list[UsageLine] = []
    seen: set[tuple[str, str]] = set()
    delivered_total = 0
    for row in rows:
        key = (row.job_id or "", row.event_type or "")
        reported = payload_decoder.decode(row.payload).number_of_generations
        line = UsageLine(
            job_id=key[0],
            model_slug=key[1],
            generated=expected.get(key, 0),
            reported=reported,
            message_id=row.id,
        )
        if row.delivered_at is not None:
            delivered_total += reported
        if key not in expected:
            unexpected.append(line)
            continue
        seen.add(key)
        if reported != expected[key]:
            mismatch.append(line)
        if row.delivered_at is None:
            (given_up if row.gave_up_at is not None else pending).append(line)
    for (job_id, slug), generated in sorted(expected.items()):
        if (job_id, slug) not in seen:
            missing.append(UsageLine(job_id=job_id, model_slug=slug, generated=generated, reported=0))
    return UsageReconciliation(
        since=since,
        until=until,
        generated_total=sum(expected.values()),
        delivered_total=delivered_total,
        missing=tuple(missing),
        count_mismatch=tuple(mismatch),
        pending=tuple(pending),
        given_up=tuple(given_up),
        unexpected=tuple(unexpected),
        balanced=not (missing or mismatch or pending or given_up or unexpected),
    )
