"""The `/v1/jobs` router, with the jobs API's problem mapping."""

from __future__ import annotations

from litestar import Router

from gateway.jobs.admin_controllers import AdminDeliveriesController, AdminJobsController, FleetController
from gateway.jobs.controllers import JobsController
from gateway.jobs.problems import job_exception_handlers


def jobs_router() -> Router:
    return Router(path="/v1", route_handlers=[JobsController], exception_handlers=job_exception_handlers())


def admin_jobs_router() -> Router:
    return Router(
        path="/admin",
        route_handlers=[AdminJobsController, FleetController, AdminDeliveriesController],
        exception_handlers=job_exception_handlers(),
    )
