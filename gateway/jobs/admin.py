"""The operator's view of every tenant's jobs: list, read and cancel, each cancel audited as an
admin change. Used by `/admin/jobs` and `clearance jobs`."""

from __future__ import annotations

from typing import Annotated

import msgspec
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.admin.actor import Actor
from gateway.jobs.errors import JobNotFoundError
from gateway.jobs.executor import JobExecutor
from gateway.jobs.lifecycle import ACTIVE
from gateway.jobs.schemas import JobView
from gateway.jobs.service import JobFilter, list_rows
from gateway.jobs.views import job_view
from registry.audit import admin_change_event, append_in_session
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
        self, sessions: async_sessionmaker[AsyncSession], actor: Actor, executor: JobExecutor | None = None
    ) -> None:
        self.sessions = sessions
        self.actor = actor
        self.executor = executor

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
                await append_in_session(
                    session,
                    [
                        admin_change_event(
                            actor_subject=self.actor.subject,
                            client_id=self.actor.client_id,
                            request_id=self.actor.request_id,
                            action="job.cancel",
                            target=job_id,
                            before={"status": row.status},
                            after={"status": row.status, "cancel_requested": True, "reason": reason},
                            tenant=row.tenant_id,
                        )
                    ],
                )
        if self.executor is not None:
            await self.executor.cancel(job_id, reason)
        return admin_job_view(await self._row(job_id))

    async def _row(self, job_id: str) -> JobRow:
        async with self.sessions() as session:
            row = await session.get(JobRow, job_id)
        if row is None:
            raise JobNotFoundError(job_id)
        return row
