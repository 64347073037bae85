"""The operator's view of every tenant's jobs: list, read and cancel, each cancel audited as an
admin change. Used by `/admin/jobs` and `clearance jobs`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import msgspec
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.admin.actor import Actor
from gateway.api.errors import ResourceConflictError, ResourceNotFoundError
from gateway.jobs.errors import JobNotFoundError
from gateway.jobs.executor import JobExecutor, utc_now
from gateway.jobs.lifecycle import ACTIVE
from gateway.jobs.pool import RunnerPool, ask_health
from gateway.jobs.schemas import JobView
from gateway.jobs.service import JobFilter, list_rows
from gateway.jobs.views import job_view
from registry.audit import append_in_session
from registry.catalog.entries import Catalog
from registry.delivery.outbox import MessageState, message_state, retry_now
from registry.jobs.tables import JobRow

MAX_REASON = 200


class AdminJobView(JobView, kw_only=True, frozen=True):
    """A job as the operator sees it: the tenant's view plus who submitted it and where it runs."""

    tenant_id: str
    client_id: str
    owner: str | None
    """The gateway process that runs (or queues) it, while it is queued or running."""
    cancel_requested: bool
    cancel_reason: str | None
    """The operator's reason, when the operator canceled it."""


class AdminJobPage(msgspec.Struct, kw_only=True, frozen=True):
    items: list[AdminJobView]
    next_cursor: str | None


class JobCancellation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(max_length=MAX_REASON)] = ""
    """Shown to the tenant in the job's `error` ("canceled by the operator: <reason>")."""


def admin_job_view(row: JobRow) -> AdminJobView:
    view = job_view(row)
    return AdminJobView(
        **msgspec.structs.asdict(view),
        tenant_id=row.tenant_id,
        client_id=row.client_id,
        owner=row.owner if row.status in ACTIVE else None,
        cancel_requested=bool(row.cancel_requested),
        cancel_reason=row.cancel_reason,
    )


class JobAdmin:
    """`executor`: this process's, which ends a job it runs at once; None (the CLI): the process
    running the job ends it at its next lease renewal (`CLEARANCE_JOB_LEASE_SECONDS` / 3)."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        actor: Actor,
        executor: JobExecutor | None = None,
        *,
        wake_delivery: Callable[[], None] = lambda: None,
    ) -> None:
        self.sessions = sessions
        self.actor = actor
        self.executor = executor
        self._wake_delivery = wake_delivery

    async def list(
        self, *, tenant_id: str | None, limit: int, cursor: str | None, filters: JobFilter
    ) -> AdminJobPage:
        """Every tenant's jobs (or one's), newest first."""
        rows, next_cursor = await list_rows(
            self.sessions, tenant_id=tenant_id, limit=limit, cursor=cursor, filters=filters
        )
        return AdminJobPage(items=[admin_job_view(r) for r in rows], next_cursor=next_cursor)

    async def get(self, job_id: str) -> AdminJobView:
        return admin_job_view(await self._row(job_id))

    async def cancel(self, job_id: str, reason: str = "") -> AdminJobView:
        """Cancel a queued or running job of any tenant; one that already ended is answered as it
        is, and nothing is recorded. The request is written with its admin change event in one
        transaction, so it reaches the process running the job even if this one stops."""
        row = await self._row(job_id)
        if row.status not in ACTIVE:
            return admin_job_view(row)
        async with self.sessions() as session, session.begin():
            result = await session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.in_(ACTIVE))
                .values(cancel_requested=True, cancel_reason=reason)
            )
            if getattr(result, "rowcount", 0) == 1:
                after = {"status": row.status, "cancel_requested": True, "reason": reason}
                event = self.actor.change_event(
                    "job.cancel", job_id, {"status": row.status}, after, row.tenant_id
                )
                await append_in_session(session, [event])
        if self.executor is not None:
            await self.executor.cancel(job_id, reason)
        return admin_job_view(await self._row(job_id))

    async def delivery(self, message_id: str) -> MessageState:
        """An outbox message (a webhook or a licensor usage report) with its attempts."""
        async with self.sessions() as session:
            state = await message_state(session, message_id)
        if state is None:
            raise ResourceNotFoundError("delivery", message_id)
        return state

    async def retry_delivery(self, message_id: str) -> MessageState:
        """Send an undelivered message now; a given-up one gets one more attempt (a licensor
        report that `clearance audit licensor-usage` lists as given up, once the licensor or its
        key is fixed). Audited as `admin.change` (`delivery.retry`); 409 once delivered."""
        async with self.sessions() as session, session.begin():
            found = await retry_now(session, message_id, now=utc_now())
            if found is None:
                raise ResourceNotFoundError("delivery", message_id)
            if found.delivered:
                raise ResourceConflictError(f"delivery {message_id!r} was delivered already")
            before = {"kind": found.kind, "gave_up": found.gave_up_at is not None}
            after = {"kind": found.kind, "due": "now"}
            event = self.actor.change_event("delivery.retry", message_id, before, after, found.tenant_id)
            await append_in_session(session, [event])
        self._wake_delivery()
        return await self.delivery(message_id)

    async def _row(self, job_id: str) -> JobRow:
        async with self.sessions() as session:
            row = await session.get(JobRow, job_id)
        if row is None:
            raise JobNotFoundError(job_id)
        return row


class RunnerStatus(msgspec.Struct, kw_only=True, frozen=True):
    """A catalog runner as this gateway process sees it now."""

    id: str
    kind: str
    enabled: bool
    paused: bool
    """Held for maintenance (in the catalog, or in this process alone)."""
    instance: bool
    """Whether this process can run it (a provider runner needs its API key in the settings)."""
    healthy: bool | None
    """Its health, checked for this answer (None without an instance)."""
    detail: str
    running: int
    """Jobs of this process running on it."""
    capacity: int
    queued: int
    """Jobs waiting in this process's queue for it."""
    device: str | None = None
    warm_pipelines: list[str] = []
    active_adapters: dict[str, list[str]] = {}


async def fleet_status(
    pool: RunnerPool, catalog: Catalog, revision: int, backlog: Callable[[str], int]
) -> list[RunnerStatus]:
    """Every runner of `catalog` (the cache's `revision`), in id order, with this process's view
    of it: health (asked now), load, queue, and for a local runner its device, warm pipelines
    and active adapters."""
    pool.follow(catalog, revision)
    out = []
    for entry in sorted(catalog.runners, key=lambda r: r.id):
        pooled = pool.get(entry.id)
        if pooled is None:
            out.append(
                RunnerStatus(
                    id=entry.id,
                    kind=entry.kind.value,
                    enabled=entry.enabled,
                    paused=entry.paused,
                    instance=False,
                    healthy=None,
                    detail="no instance in this process" if entry.enabled else "disabled",
                    running=0,
                    capacity=entry.capacity,
                    queued=backlog(entry.id),
                )
            )
            continue
        healthy = await ask_health(pooled)
        described = pooled.runner.describe()
        out.append(
            RunnerStatus(
                id=entry.id,
                kind=entry.kind.value,
                enabled=entry.enabled,
                paused=pooled.paused,
                instance=True,
                healthy=healthy,
                detail=pooled.last_health.detail if pooled.last_health is not None else "",
                running=pooled.running,
                capacity=pooled.capacity,
                queued=backlog(entry.id),
                device=described.device,
                warm_pipelines=list(described.warm_pipelines),
                active_adapters={k: list(v) for k, v in described.active_adapters.items()},
            )
        )
    return out
