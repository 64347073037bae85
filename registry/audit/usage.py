"""Monthly usage, computed from `job.outcome` events alone, so the figures are as tamper-evident
as the log: per tenant, per license, per agreement and per artifact, the images generated, the
purposes they were generated for and the runners that generated them.

The gateway emits one `job.outcome` event per finished job, built with `job_outcome_event`.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from registry.audit.events import EventKind, NewEvent
from registry.audit.query import MAX_PAGE, EventQuery, iterate_events


class JobOutcome(msgspec.Struct, kw_only=True, frozen=True):
    """Payload of a `job.outcome` event."""

    job_id: str
    status: str
    """`succeeded`, `failed` or `cancelled`."""
    images: int
    """Images delivered to the tenant (0 when the job failed)."""
    purpose: str
    """The declared `Purpose` value the job was allowed for."""
    runner: str
    """Id of the runner that executed the job."""
    artifacts: list[str] = msgspec.field(default_factory=list)
    """Artifact ids: base model first, then adapters and components."""
    licenses: list[str] = msgspec.field(default_factory=list)
    """`key@version` of every license that governed the job."""
    agreements: list[str] = msgspec.field(default_factory=list)
    """Ids of the agreements the decision relied on (tenant's and operator's)."""
    output_use: str | None = None
    image_sha256: list[str] = msgspec.field(default_factory=list)
    """SHA-256 (hex) of each image delivered, in order, as stored and served (PNG with its
    provenance chunks): `clearance audit image FILE.png` finds an image's job by them. Empty in
    outcomes recorded before they were kept."""


def job_outcome_event(
    outcome: JobOutcome,
    *,
    tenant: str,
    actor_subject: str | None = None,
    client_id: str | None = None,
    request_id: str | None = None,
    decision_id: str | None = None,
) -> NewEvent:
    return NewEvent(
        kind=EventKind.JOB_OUTCOME,
        payload=outcome,
        tenant=tenant,
        actor_subject=actor_subject,
        client_id=client_id,
        request_id=request_id,
        decision_id=decision_id,
        job_id=outcome.job_id,
    )


class UsageTally(msgspec.Struct, kw_only=True):
    jobs: int = 0
    images: int = 0
    jobs_by_status: dict[str, int] = msgspec.field(default_factory=dict)
    images_by_purpose: dict[str, int] = msgspec.field(default_factory=dict)
    images_by_runner: dict[str, int] = msgspec.field(default_factory=dict)

    def add(self, outcome: JobOutcome) -> None:
        self.jobs += 1
        self.images += outcome.images
        _bump(self.jobs_by_status, outcome.status, 1)
        _bump(self.images_by_purpose, outcome.purpose, outcome.images)
        _bump(self.images_by_runner, outcome.runner, outcome.images)


class MonthlyUsage(msgspec.Struct, kw_only=True):
    month: str
    """`YYYY-MM` (UTC)."""
    total: UsageTally
    tenants: dict[str, UsageTally]
    licenses: dict[str, UsageTally]
    agreements: dict[str, UsageTally]
    artifacts: dict[str, UsageTally]


def _bump(counts: dict[str, int], key: str, amount: int) -> None:
    counts[key] = counts.get(key, 0) + amount


def month_bounds(year: int, month: int) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    end = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC)
    return start, end


async def monthly_usage(
    db: AsyncConnection | AsyncSession, year: int, month: int, *, tenant: str | None = None
) -> MonthlyUsage:
    start, end = month_bounds(year, month)
    usage = MonthlyUsage(
        month=f"{year:04d}-{month:02d}",
        total=UsageTally(),
        tenants={},
        licenses={},
        agreements={},
        artifacts={},
    )
    query = EventQuery(kind=EventKind.JOB_OUTCOME, tenant=tenant, since=start, until=end, limit=MAX_PAGE)
    decoder = msgspec.json.Decoder(JobOutcome)
    async for event in iterate_events(db, query):
        outcome = decoder.decode(event.payload)
        usage.total.add(outcome)
        usage.tenants.setdefault(event.tenant or "", UsageTally()).add(outcome)
        for dimension, keys in (
            (usage.licenses, outcome.licenses),
            (usage.agreements, outcome.agreements),
            (usage.artifacts, outcome.artifacts),
        ):
            for key in dict.fromkeys(keys):
                dimension.setdefault(key, UsageTally()).add(outcome)
    return usage
