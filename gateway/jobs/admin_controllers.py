"""`/admin/jobs`: every tenant's jobs for the operator (scope `admin`)."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, Parameter

from gateway.admin.actor import Actor
from gateway.api.instants import utc_instant
from gateway.auth.context import AuthContext
from gateway.auth.scopes import Scope
from gateway.jobs.admin import (
    AdminJobPage,
    AdminJobView,
    JobAdmin,
    JobCancellation,
    RunnerStatus,
    fleet_status,
)
from gateway.jobs.controllers import JOBS_RUNTIME_STATE_KEY
from gateway.jobs.service import JobFilter
from registry.delivery.outbox import MessageState

ADMIN = {"scope": Scope.ADMIN}


def provide_job_admin(state: State, auth: NamedDependency[AuthContext]) -> JobAdmin:
    runtime = state[JOBS_RUNTIME_STATE_KEY]
    return JobAdmin(
        runtime.service.sessions, Actor.of(auth), runtime.executor, wake_delivery=runtime.wake_delivery
    )


class AdminJobsController(Controller):
    path = "/jobs"
    tags = ["admin"]
    dependencies = {"job_admin": Provide(provide_job_admin, sync_to_thread=False)}

    @get("/", opt=ADMIN)
    async def list_all_jobs(
        self,
        job_admin: NamedDependency[JobAdmin],
        limit: int = Parameter(default=20, ge=1, le=100),
        cursor: FromQuery[str | None] = None,
        tenant: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        runner: FromQuery[str | None] = None,
        model: FromQuery[str | None] = None,
        since: FromQuery[dt.datetime | None] = None,
        until: FromQuery[dt.datetime | None] = None,
    ) -> AdminJobPage:
        """Every tenant's jobs (or `tenant`'s), newest first; filters `status`, `runner`,
        `model`, `since` and `until` (created at, with a time zone)."""
        filters = JobFilter(
            status=status,
            model=model,
            runner=runner,
            since=utc_instant("since", since),
            until=utc_instant("until", until),
        )
        return await job_admin.list(tenant_id=tenant, limit=limit, cursor=cursor, filters=filters)

    @get("/{job_id:str}", opt=ADMIN)
    async def get_any_job(self, job_id: FromPath[str], job_admin: NamedDependency[JobAdmin]) -> AdminJobView:
        return await job_admin.get(job_id)

    @post("/{job_id:str}/cancel", opt=ADMIN, status_code=202)
    async def cancel_any_job(
        self,
        job_id: FromPath[str],
        job_admin: NamedDependency[JobAdmin],
        data: JSONBody[JobCancellation | None] = None,
    ) -> AdminJobView:
        """Cancel a queued or running job of any tenant (audited as `admin.change`, action
        `job.cancel`); its `error` says "canceled by the operator" with the `reason` given. One
        that already ended is answered as it is."""
        return await job_admin.cancel(job_id, (data or JobCancellation()).reason)


class FleetController(Controller):
    path = "/fleet"
    tags = ["admin"]

    @get("/", opt=ADMIN)
    async def fleet(self, state: State) -> list[RunnerStatus]:
        """Every runner of the catalog as the gateway process answering sees it: enabled,
        paused, whether it has an instance here, its health (asked now), jobs running and queued
        here, and a local runner's device, warm pipelines and active adapters."""
        runtime = state[JOBS_RUNTIME_STATE_KEY]
        revision = await runtime.catalog.current()
        return await fleet_status(runtime.pool, revision.catalog, revision.number, runtime.backlog)


class AdminDeliveriesController(Controller):
    path = "/deliveries"
    tags = ["admin"]
    dependencies = {"job_admin": Provide(provide_job_admin, sync_to_thread=False)}

    @get("/{message_id:str}", opt=ADMIN)
    async def get_delivery(
        self, message_id: FromPath[str], job_admin: NamedDependency[JobAdmin]
    ) -> MessageState:
        """A webhook or licensor usage report message of any tenant, with every attempt."""
        return await job_admin.delivery(message_id)

    @post("/{message_id:str}/retry", opt=ADMIN, status_code=202)
    async def retry_delivery(
        self, message_id: FromPath[str], job_admin: NamedDependency[JobAdmin]
    ) -> MessageState:
        """Send a message not yet delivered now: a given-up one gets one more attempt (given up
        again if it fails). Audited (`delivery.retry`); 409 once delivered."""
        return await job_admin.retry_delivery(message_id)
