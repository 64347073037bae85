"""A tenant's jobs created in a span, totalled per status (`GET /v1/usage`)."""

from __future__ import annotations

import datetime as dt

import msgspec
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.jobs.tables import JobRow


class StatusTotals(msgspec.Struct, frozen=True, kw_only=True):
    jobs: int
    images: int
    cost_usd: float


async def job_totals(
    session: AsyncSession, tenant_id: str, since: dt.datetime, until: dt.datetime
) -> dict[str, StatusTotals]:
    """Jobs, images made and cost per status of the tenant's jobs created in [since, until) (the
    `(tenant_id, created_at)` index)."""
    rows = await session.execute(
        select(
            JobRow.status,
            func.count(),
            func.coalesce(func.sum(JobRow.images), 0),
            func.coalesce(func.sum(JobRow.cost_usd), 0.0),
        )
        .where(JobRow.tenant_id == tenant_id, JobRow.created_at >= since, JobRow.created_at < until)
        .group_by(JobRow.status)
    )
    return {
        status: StatusTotals(jobs=jobs, images=int(images), cost_usd=float(cost or 0.0))
        for status, jobs, images, cost in rows
    }
