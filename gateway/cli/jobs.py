"""`clearance jobs list|show|cancel`: every tenant's jobs, for the operator (as `/admin/jobs`)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import TypeVar

import click
import msgspec

from gateway.admin.actor import Actor
from gateway.api.errors import InvalidQueryError
from gateway.jobs.admin import MAX_REASON, AdminJobPage, AdminJobView, JobAdmin
from gateway.jobs.errors import JobNotFoundError
from gateway.jobs.lifecycle import ACTIVE, TERMINAL
from gateway.jobs.service import JobFilter
from gateway.settings import Settings
from registry.db.engine import create_engine, session_factory

T = TypeVar("T")


@click.group()
def jobs() -> None:
    """Every tenant's jobs: list, show, cancel (the operator's view, as /admin/jobs)."""


def _instant(name: str) -> Callable[[click.Context, click.Parameter, str | None], dt.datetime | None]:
    def convert(_ctx: click.Context, _param: click.Parameter, value: str | None) -> dt.datetime | None:
        if value is None:
            return None
        try:
            when = dt.datetime.fromisoformat(value)
        except ValueError as exc:
            raise click.BadParameter(f"{value!r} is not an ISO 8601 instant", param_hint=name) from exc
        if when.tzinfo is None:
            raise click.BadParameter("give a time zone (e.g. 2026-01-01T00:00:00Z)", param_hint=name)
        return when.astimezone(dt.UTC)

    return convert


@jobs.command(name="list")
@click.option("--tenant", help="Only this tenant's jobs.")
@click.option("--status", type=click.Choice([*ACTIVE, *TERMINAL]), help="Only jobs in this status.")
@click.option("--runner", help="Only jobs on this runner.")
@click.option("--model", help="Only jobs of this model.")
@click.option("--since", callback=_instant("--since"), help="Created at or after (ISO 8601, with a zone).")
@click.option("--until", callback=_instant("--until"), help="Created before (ISO 8601, with a zone).")
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True)
@click.option("--cursor", help="The next_cursor of the previous page.")
@click.option("--json", "as_json", is_flag=True, help="Print the page as JSON.")
@click.pass_obj
def list_jobs(
    settings: Settings,
    tenant: str | None,
    status: str | None,
    runner: str | None,
    model: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    limit: int,
    cursor: str | None,
    as_json: bool,
) -> None:
    """Jobs newest first, one line each (id, tenant, status, model, runner, created)."""
    filters = JobFilter(status=status, model=model, runner=runner, since=since, until=until)
    page: AdminJobPage = _run(
        settings, lambda admin: admin.list(tenant_id=tenant, limit=limit, cursor=cursor, filters=filters)
    )
    if as_json:
        click.echo(msgspec.json.encode(page).decode())
        return
    for job in page.items:
        created = job.created_at.isoformat()
        line = f"{job.id}  {job.tenant_id}  {job.status:<9}  {job.model}  {job.runner}  {created}"
        click.echo(f"{line}  {job.error}" if job.error else line)
    if page.next_cursor:
        click.echo(f"more: --cursor {page.next_cursor}")


@jobs.command(name="show")
@click.argument("job_id")
@click.pass_obj
def show_job(settings: Settings, job_id: str) -> None:
    """One job of any tenant, as JSON."""
    job: AdminJobView = _run(settings, lambda admin: admin.get(job_id))
    click.echo(msgspec.json.format(msgspec.json.encode(job)).decode())


@jobs.command(name="cancel")
@click.argument("job_id")
@click.option(
    "--reason", default="", help=f"Shown to the tenant in the job's error (at most {MAX_REASON} characters)."
)
@click.pass_obj
def cancel_job(settings: Settings, job_id: str, reason: str) -> None:
    """Cancel a queued or running job of any tenant (audited). The gateway process running it
    ends it at its next lease renewal (within CLEARANCE_JOB_LEASE_SECONDS / 3)."""
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise click.BadParameter(f"at most {MAX_REASON} characters, no NUL", param_hint="--reason")
    job: AdminJobView = _run(settings, lambda admin: admin.cancel(job_id, reason))
    if job.status in ACTIVE:
        click.echo(f"job {job_id} ({job.tenant_id}) is {job.status}: cancel requested")
    else:
        click.echo(f"job {job_id} ({job.tenant_id}) already ended: {job.status}")


def _run(settings: Settings, action: Callable[[JobAdmin], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await action(JobAdmin(session_factory(engine), Actor.cli()))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except JobNotFoundError as exc:
        raise click.BadParameter(str(exc), param_hint="JOB_ID") from exc
    except InvalidQueryError as exc:
        raise click.BadParameter(str(exc)) from exc
