"""Admin operations on OAuth clients, audited in the same transaction as the change.

The secret is generated here, returned once by `create` and stored only as its peppered hash;
no listing or audit record ever carries it (nor its hash).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import msgspec
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.actor import Actor
from gateway.api.errors import ResourceConflictError, ResourceNotFoundError
from gateway.auth.scopes import parse_scopes
from gateway.oauth.client_registry import ClientRegistrationError, check_public_jwk
from gateway.oauth.client_secrets import ClientSecretHasher, generate_client_id, generate_client_secret
from registry.audit import append_in_session
from registry.db.catalog_tables import TenantRow
from registry.identity.clients import OAuthClientRecord


class ClientView(msgspec.Struct, frozen=True, kw_only=True):
    client_id: str
    tenant_id: str
    name: str
    scopes: tuple[str, ...]
    disabled: bool
    created_at: dt.datetime
    has_secret: bool
    public_jwk: dict[str, Any] | None = None
    previous_secret_until: dt.datetime | None = None
    """While set, the secret a rotation replaced is still accepted, until then."""


class CreatedClient(msgspec.Struct, frozen=True, kw_only=True):
    client: ClientView
    client_secret: str | None
    """Shown only in this answer; store it now."""


class RotatedSecret(msgspec.Struct, frozen=True, kw_only=True):
    client: ClientView
    client_secret: str
    """The new secret, shown only in this answer; store it now."""


def client_view(record: OAuthClientRecord) -> ClientView:
    return ClientView(
        client_id=record.client_id,
        tenant_id=record.tenant_id,
        name=record.name,
        scopes=tuple(record.scopes),
        disabled=record.disabled,
        created_at=record.created_at,
        has_secret=record.secret_hash is not None,
        public_jwk=record.public_jwk,
        previous_secret_until=record.previous_secret_until if record.previous_secret_hash else None,
    )


def _audited(view: ClientView | None) -> dict[str, Any] | None:
    return msgspec.to_builtins(view) if view is not None else None


class ClientAdmin:
    def __init__(
        self,
        session: AsyncSession,
        actor: Actor,
        hasher: ClientSecretHasher,
        *,
        on_disable: Callable[[str], None] | None = None,
    ) -> None:
        self.session = session
        self.actor = actor
        self.hasher = hasher
        self._on_disable = on_disable
        """Told the client id once a disable is committed, so this process refuses the client's
        outstanding tokens at once instead of at the next state sync."""

    async def list(self, tenant_id: str | None = None) -> list[ClientView]:
        statement = select(OAuthClientRecord).order_by(
            OAuthClientRecord.created_at, OAuthClientRecord.client_id
        )
        if tenant_id is not None:
            statement = statement.where(OAuthClientRecord.tenant_id == tenant_id)
        return [client_view(record) for record in await self.session.scalars(statement)]

    async def get(self, client_id: str) -> OAuthClientRecord:
        record = await self.session.get(OAuthClientRecord, client_id) if len(client_id) <= 64 else None
        if record is None:
            raise ResourceNotFoundError("client", client_id)
        return record

    async def create(
        self,
        *,
        tenant_id: str,
        scopes: str,
        name: str = "",
        public_jwk: dict[str, Any] | None = None,
        with_secret: bool = True,
    ) -> CreatedClient:
        scope_list = _scopes(scopes)
        tenant = await self.session.get(TenantRow, tenant_id)
        if tenant is None:
            raise ClientRegistrationError(f"tenant_id: no tenant {tenant_id!r}")
        if tenant.retired:
            raise ClientRegistrationError(f"tenant_id: tenant {tenant_id!r} is retired")
        jwk = check_public_jwk(public_jwk) if public_jwk is not None else None
        if not with_secret and jwk is None:
            raise ClientRegistrationError("a client needs a secret or a public key")
        secret = generate_client_secret() if with_secret else None
        record = OAuthClientRecord(
            client_id=generate_client_id(),
            tenant_id=tenant_id,
            name=name,
            secret_hash=self.hasher.hash(secret) if secret is not None else None,
            public_jwk=jwk,
            scopes=list(scope_list),
            disabled=False,
            created_at=dt.datetime.now(dt.UTC),
        )
        self.session.add(record)
        await self.session.flush()
        view = client_view(record)
        await self._commit("client.create", record, None, view)
        return CreatedClient(client=view, client_secret=secret)

    async def update(self, client_id: str, *, name: str | None, scopes: str | None) -> ClientView:
        record = await self.get(client_id)
        before = client_view(record)
        if name is not None:
            record.name = name
        if scopes is not None:
            record.scopes = list(_scopes(scopes))
        after = client_view(record)
        if after != before:
            await self._commit("client.update", record, before, after)
        return after

    async def rotate_secret(self, client_id: str, *, previous_valid_hours: int = 0) -> RotatedSecret:
        """A new secret for the client; the one it replaces is refused at once, or accepted beside
        it for `previous_valid_hours` (one previous secret at a time: an earlier one goes). Tokens
        already issued keep working until they expire; disabling the client refuses them."""
        record = await self.get(client_id)
        if record.secret_hash is None:
            raise ResourceConflictError(f"client {client_id!r} has no secret (it uses private_key_jwt)")
        if record.disabled:
            raise ResourceConflictError(f"client {client_id!r} is disabled")
        before = client_view(record)
        now = dt.datetime.now(dt.UTC)
        secret = generate_client_secret()
        if previous_valid_hours > 0:
            record.previous_secret_hash = record.secret_hash
            record.previous_secret_until = now + dt.timedelta(hours=previous_valid_hours)
        else:
            record.previous_secret_hash = record.previous_secret_until = None
        record.secret_hash = self.hasher.hash(secret)
        after = client_view(record)
        await self._commit("client.rotate_secret", record, before, after)
        return RotatedSecret(client=after, client_secret=secret)

    async def disable(self, client_id: str) -> ClientView:
        record = await self.get(client_id)
        before = client_view(record)
        record.disabled = True
        after = client_view(record)
        if after != before:
            await self._commit("client.disable", record, before, after)
        if self._on_disable is not None:
            self._on_disable(record.client_id)
        return after

    async def _commit(
        self, action: str, record: OAuthClientRecord, before: ClientView | None, after: ClientView
    ) -> None:
        await self.session.flush()
        event = self.actor.change_event(
            action, record.client_id, _audited(before), _audited(after), record.tenant_id
        )
        await append_in_session(self.session, [event])
        await self.session.commit()


def _scopes(text: str) -> tuple[str, ...]:
    try:
        found = parse_scopes(text)
    except ValueError as exc:
        raise ClientRegistrationError(f"scopes: {exc}") from exc
    if not found:
        raise ClientRegistrationError("scopes: at least one scope is required")
    return found
