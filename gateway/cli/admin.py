"""`clearance tenants create|retire` and `clearance clients create|rotate-secret`."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.admin.actor import Actor
from gateway.admin.catalog_service import CatalogAdmin
from gateway.admin.clients import ClientAdmin, RotatedSecret
from gateway.api.errors import ResourceConflictError, ResourceNotFoundError
from gateway.auth.scopes import Scope
from gateway.cli.admin_entries import agreements, run_as_cli_admin, set_tenant_profile
from gateway.oauth.client_registry import ClientRegistrationError, RegisteredClient
from gateway.oauth.client_secrets import ClientSecretHasher
from gateway.oauth.pepper import load_pepper
from gateway.settings import Settings
from registry.catalog.entries import Tenant
from registry.db.engine import create_engine, session_factory
from registry.identity.clients import OAuthClientRecord

__all__ = ["agreements", "clients", "tenants"]


@click.group()
def tenants() -> None:
    """Tenants (organisations that call the API)."""


@tenants.command(name="create")
@click.option("--id", "tenant_id", required=True, help="Tenant id (slug).")
@click.option("--name", required=True, help="Organisation name.")
@click.pass_obj
def create_tenant(settings: Settings, tenant_id: str, name: str) -> None:
    """Create a tenant with an empty profile (fill it in through the catalog)."""
    import msgspec

    try:
        tenant = msgspec.convert({"id": tenant_id, "name": name}, Tenant)
    except msgspec.ValidationError as exc:
        raise click.BadParameter(str(exc)) from exc
    run_as_cli_admin(settings, lambda admin: admin.create("tenants", tenant))
    click.echo(f"tenant {tenant_id} created")


@tenants.command(name="retire")
@click.option("--id", "tenant_id", required=True, help="Tenant id.")
@click.pass_obj
def retire_tenant(settings: Settings, tenant_id: str) -> None:
    """Retire a tenant: its clients get no more tokens and the tokens they hold are refused (by
    running servers within CLEARANCE_STATE_SYNC_SECONDS). Names the admin clients that lose access."""

    async def retire(admin: CatalogAdmin) -> list[str]:
        await admin.change("tenants", tenant_id, "retire", retired=True)
        holders = await admin.session.scalars(
            select(OAuthClientRecord).where(
                OAuthClientRecord.tenant_id == tenant_id, OAuthClientRecord.disabled.is_(False)
            )
        )
        return [client.client_id for client in holders if Scope.ADMIN.value in client.scopes]

    admin_clients = run_as_cli_admin(settings, retire)
    click.echo(f"tenant {tenant_id} retired")
    if admin_clients:
        click.echo(
            f"warning: admin clients of {tenant_id} lose access too: {', '.join(admin_clients)}", err=True
        )


tenants.add_command(set_tenant_profile)


@click.group()
def clients() -> None:
    """OAuth clients."""


@clients.command(name="create")
@click.option("--tenant", "tenant_id", required=True, help="The tenant every token of this client acts for.")
@click.option("--scopes", required=True, help='Space-separated scopes, e.g. "models:read jobs:write".')
@click.option("--name", default="", help="A label for people.")
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="A public JWK (JSON file) for private_key_jwt authentication.",
)
@click.option("--no-secret", is_flag=True, help="No client secret (private_key_jwt only).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def create_client(
    settings: Settings,
    tenant_id: str,
    scopes: str,
    name: str,
    public_key: Path | None,
    no_secret: bool,
    as_json: bool,
) -> None:
    """Register a client. Its secret is printed once and never stored in clear."""
    jwk = _read_jwk(public_key) if public_key is not None else None
    try:
        created = asyncio.run(_create_client(settings, tenant_id, scopes, name, jwk, not no_secret))
    except ClientRegistrationError as exc:
        raise click.BadParameter(str(exc)) from exc
    except IntegrityError as exc:
        raise click.ClickException(f"no tenant {tenant_id!r}: create it first") from exc
    if as_json:
        click.echo(
            json.dumps(
                {
                    "client_id": created.client_id,
                    "client_secret": created.client_secret,
                    "tenant_id": created.tenant_id,
                    "scopes": list(created.scopes),
                }
            )
        )
        return
    click.echo(f"client_id:     {created.client_id}")
    if created.client_secret is not None:
        click.echo(f"client_secret: {created.client_secret}")
        click.echo("(the secret is shown only now; store it safely)")
    click.echo(f"tenant:        {created.tenant_id}")
    click.echo(f"scopes:        {' '.join(created.scopes)}")


@clients.command(name="rotate-secret")
@click.argument("client_id")
@click.option(
    "--previous-valid-hours",
    type=click.IntRange(0, 168),
    default=0,
    show_default=True,
    help="How long the old secret is still accepted beside the new one (0: refused at once).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def rotate_client_secret(
    settings: Settings, client_id: str, previous_valid_hours: int, as_json: bool
) -> None:
    """Give a client a new secret, printed once. Audited; tokens already issued stay valid until
    they expire (disable the client to refuse them)."""
    try:
        rotated = asyncio.run(_rotate_secret(settings, client_id, previous_valid_hours))
    except ResourceNotFoundError as exc:
        raise click.BadParameter(f"no client {client_id!r}", param_hint="CLIENT_ID") from exc
    except ResourceConflictError as exc:
        raise click.ClickException(str(exc)) from exc
    until = rotated.client.previous_secret_until
    if as_json:
        click.echo(
            json.dumps(
                {
                    "client_id": client_id,
                    "client_secret": rotated.client_secret,
                    "previous_secret_until": until.isoformat() if until else None,
                }
            )
        )
        return
    click.echo(f"client_id:     {client_id}")
    click.echo(f"client_secret: {rotated.client_secret}")
    click.echo("(the secret is shown only now; store it safely)")
    click.echo(f"old secret:    {'accepted until ' + until.isoformat() if until else 'refused from now on'}")


async def _rotate_secret(settings: Settings, client_id: str, previous_valid_hours: int) -> RotatedSecret:
    hasher = ClientSecretHasher(load_pepper(settings))
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await ClientAdmin(session, Actor.cli(), hasher).rotate_secret(
                client_id, previous_valid_hours=previous_valid_hours
            )
    finally:
        await engine.dispose()


def _read_jwk(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError) as exc:  # RecursionError: nested past the decoder
        raise click.BadParameter(f"{path}: not a JSON file ({exc})") from exc
    if not isinstance(value, dict):
        raise click.BadParameter(f"{path}: a JWK is a JSON object")
    return value


async def _create_client(
    settings: Settings, tenant_id: str, scopes: str, name: str, jwk: dict[str, Any] | None, with_secret: bool
) -> RegisteredClient:
    hasher = ClientSecretHasher(load_pepper(settings))
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            created = await ClientAdmin(session, Actor.cli(), hasher).create(
                tenant_id=tenant_id, scopes=scopes, name=name, public_jwk=jwk, with_secret=with_secret
            )
            view = created.client
            return RegisteredClient(
                client_id=view.client_id,
                tenant_id=view.tenant_id,
                scopes=view.scopes,
                client_secret=created.client_secret,
            )
    finally:
        await engine.dispose()
