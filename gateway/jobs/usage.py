"""`GET /v1/usage`: what a tenant used in a month (UTC): its jobs, images and cost, and for each
of its agreements the images counted against it and, where the agreement has a monthly quota,
what is left. The quota figures are the counters the admission reserves on, so `remaining` is
what the next jobs may still take; jobs and cost come from the job rows (created that month)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.audit.schemas import parse_month
from gateway.auth.context import AuthContext
from gateway.auth.scopes import Scope
from gateway.catalog.cache import CatalogRevision
from gateway.catalog.dependencies import provide_catalog
from gateway.runtime import GatewayRuntime
from registry.audit.usage import month_bounds
from registry.catalog.entries import Agreement
from registry.jobs.quota import usage_of
from registry.jobs.totals import job_totals


class AgreementUsage(msgspec.Struct, kw_only=True):
    agreement: str
    licensor: str
    used: int
    """Images counted against the agreement this month (reserved by jobs, given back by those
    that ended with fewer)."""
    monthly_quota: int | None
    remaining: int | None
    """`monthly_quota - used`; None without a quota."""


class TenantUsage(msgspec.Struct, kw_only=True):
    month: str
    jobs: int
    jobs_by_status: dict[str, int]
    images: int
    cost_usd: float
    agreements: list[AgreementUsage]


class UsageController(Controller):
    path = "/usage"
    tags = ["usage"]
    dependencies = {"catalog": Provide(provide_catalog)}

    @get("/", opt={"scope": Scope.JOBS_READ}, summary="The caller's tenant's usage in a month")
    async def usage(
        self,
        auth: NamedDependency[AuthContext],
        runtime: NamedDependency[GatewayRuntime],
        catalog: NamedDependency[CatalogRevision],
        month: FromQuery[str | None] = None,
    ) -> TenantUsage:
        """`month` is `YYYY-MM` (UTC), this month by default."""
        if month is None:
            now = dt.datetime.now(dt.UTC)
            year, number = now.year, now.month
        else:
            year, number = parse_month(month)
        held = [a for a in catalog.catalog.agreements if a.holder == auth.tenant_id]
        return await tenant_usage(runtime.sessions, auth.tenant_id, held, year, number)


async def tenant_usage(
    sessions: async_sessionmaker[AsyncSession],
    tenant_id: str,
    agreements: Sequence[Agreement],
    year: int,
    month: int,
) -> TenantUsage:
    """The tenant's month: its jobs' totals and its `agreements`' counters."""
    label = f"{year:04d}-{month:02d}"
    since, until = month_bounds(year, month)
    held = sorted(agreements, key=lambda a: a.id)
    async with sessions() as session:
        totals = await job_totals(session, tenant_id, since, until)
        counted = await usage_of(session, [a.id for a in held], label)
    return TenantUsage(
        month=label,
        jobs=sum(t.jobs for t in totals.values()),
        jobs_by_status={status: t.jobs for status, t in sorted(totals.items())},
        images=sum(t.images for t in totals.values()),
        cost_usd=round(sum(t.cost_usd for t in totals.values()), 6),
        agreements=[_agreement_usage(a, counted.get(a.id, 0)) for a in held],
    )


def _agreement_usage(agreement: Agreement, used: int) -> AgreementUsage:
    quota = agreement.monthly_quota
    return AgreementUsage(
        agreement=agreement.id,
        licensor=agreement.licensor,
        used=used,
        monthly_quota=quota,
        remaining=None if quota is None else max(quota - used, 0),
    )
