"""`clearance agreements create|revoke|list` and `clearance tenants profile`: the admin API's
operations from the command line, for bootstrapping. Changes go through the same service as the
API and are audited with the actor `cli:<user>`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
import msgspec

from gateway.admin.actor import Actor
from gateway.admin.catalog_service import CatalogAdmin, today
from gateway.api.errors import ResourceConflictError, ResourceNotFoundError
from gateway.settings import Settings
from registry.catalog.entries import Agreement, TenantProfile
from registry.catalog.errors import CatalogError
from registry.db.engine import create_engine, session_factory
from registry.vocabulary import OrganisationType, Purpose

T = TypeVar("T")


def run_as_cli_admin(settings: Settings, action: Callable[[CatalogAdmin], Awaitable[T]]) -> T:
    """Run `action` with an audited admin service; domain errors become click errors."""

    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return await action(CatalogAdmin(session, Actor.cli()))
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except (CatalogError, ResourceConflictError, ResourceNotFoundError) as exc:
        raise click.ClickException(str(exc)) from exc


@click.group()
def agreements() -> None:
    """Agreements: licenses a tenant (or the operator) signed with a licensor."""


@agreements.command(name="create")
@click.option("--id", "agreement_id", required=True)
@click.option("--holder", required=True, help="Tenant id, or 'operator'.")
@click.option("--licensor", required=True)
@click.option("--family", "families", multiple=True, help="License family covered (repeatable).")
@click.option("--artifact", "artifacts", multiple=True, help="Artifact covered (repeatable).")
@click.option(
    "--purpose", "purposes", multiple=True, required=True, type=click.Choice([p.value for p in Purpose])
)
@click.option("--valid-from", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--valid-until", type=click.DateTime(["%Y-%m-%d"]), default=None)
@click.option("--monthly-quota", type=int, default=None)
@click.option("--title", default=None)
@click.pass_obj
def create_agreement(
    settings: Settings,
    agreement_id: str,
    holder: str,
    licensor: str,
    families: tuple[str, ...],
    artifacts: tuple[str, ...],
    purposes: tuple[str, ...],
    valid_from: dt.datetime,
    valid_until: dt.datetime | None,
    monthly_quota: int | None,
    title: str | None,
) -> None:
    """Record a signed agreement (validated like a catalog file entry)."""
    raw: dict[str, Any] = {
        "id": agreement_id,
        "holder": holder,
        "licensor": licensor,
        "covers": {"license_families": list(families), "artifacts": list(artifacts)},
        "purposes": list(purposes),
        "valid_from": valid_from.date().isoformat(),
        "valid_until": valid_until.date().isoformat() if valid_until else None,
        "monthly_quota": monthly_quota,
        "title": title,
    }
    try:
        agreement = msgspec.convert({k: v for k, v in raw.items() if v is not None}, Agreement)
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc)) from exc
    run_as_cli_admin(settings, lambda admin: admin.create("agreements", agreement))
    click.echo(f"agreement {agreement_id} created for {holder}")


@agreements.command(name="revoke")
@click.option("--id", "agreement_id", required=True)
@click.option("--on", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Default: today (UTC).")
@click.pass_obj
def revoke_agreement(settings: Settings, agreement_id: str, on: dt.datetime | None) -> None:
    day = on.date() if on else today()
    run_as_cli_admin(
        settings, lambda admin: admin.change("agreements", agreement_id, "revoke", revoked_at=day)
    )
    click.echo(f"agreement {agreement_id} revoked from {day.isoformat()}")


@agreements.command(name="list")
@click.option("--holder", default=None)
@click.pass_obj
def list_agreements(settings: Settings, holder: str | None) -> None:
    """Agreements as JSON lines."""

    async def read(admin: CatalogAdmin) -> tuple[Agreement, ...]:
        return (await admin.catalog()).agreements

    for agreement in run_as_cli_admin(settings, read):
        if holder is None or agreement.holder == holder:
            click.echo(json.dumps(msgspec.to_builtins(agreement)))


@click.command(name="profile")
@click.option("--id", "tenant_id", required=True)
@click.option("--organisation-type", default=None, type=click.Choice([t.value for t in OrganisationType]))
@click.option("--country", default=None, help="ISO 3166-1 alpha-2 code.")
@click.option("--end-user-region", "regions", multiple=True, help="Region of end users (repeatable).")
@click.option("--annual-revenue-usd", type=float, default=None, help="Including affiliates.")
@click.option("--monthly-active-users", type=int, default=None)
@click.option("--core-business/--not-core-business", "core_business", default=None)
@click.option("--registration", "registrations", multiple=True, help="Licensor registered with (repeatable).")
@click.pass_obj
def set_tenant_profile(
    settings: Settings,
    tenant_id: str,
    organisation_type: str | None,
    country: str | None,
    regions: tuple[str, ...],
    annual_revenue_usd: float | None,
    monthly_active_users: int | None,
    core_business: bool | None,
    registrations: tuple[str, ...],
) -> None:
    """Replace a tenant's profile (the facts the policy judges it on)."""
    raw: dict[str, Any] = {
        "organisation_type": organisation_type,
        "country": country,
        "end_user_regions": list(regions),
        "annual_revenue_usd": annual_revenue_usd,
        "monthly_active_users": monthly_active_users,
        "image_generation_core_business": core_business,
        "registrations": list(registrations),
    }
    try:
        profile = msgspec.convert({k: v for k, v in raw.items() if v is not None}, TenantProfile)
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc)) from exc
    run_as_cli_admin(
        settings, lambda admin: admin.change("tenants", tenant_id, "profile.update", profile=profile)
    )
    click.echo(f"tenant {tenant_id}: profile updated")


@click.group()
def runners() -> None:
    """Runners: pause one for maintenance, resume it (in every gateway process)."""


@runners.command(name="pause")
@click.argument("runner_id")
@click.pass_obj
def pause_runner(settings: Settings, runner_id: str) -> None:
    """Hold a runner: jobs routed to it wait queued and none starts on it (running gateways see it
    within CLEARANCE_STATE_SYNC_SECONDS); jobs running on it finish. Audited."""
    run_as_cli_admin(settings, lambda admin: admin.change("runners", runner_id, "pause", paused=True))
    click.echo(f"runner {runner_id} paused")


@runners.command(name="resume")
@click.argument("runner_id")
@click.pass_obj
def resume_runner(settings: Settings, runner_id: str) -> None:
    """Let a paused runner start jobs again (its queued jobs first). Audited."""
    run_as_cli_admin(settings, lambda admin: admin.change("runners", runner_id, "resume", paused=False))
    click.echo(f"runner {runner_id} resumed")
