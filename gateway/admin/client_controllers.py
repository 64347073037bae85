"""`/admin/clients`: register (the secret is in that answer only), list, read, update, rotate
the secret, disable."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.admin.clients import ClientAdmin, ClientView, CreatedClient, RotatedSecret, client_view
from gateway.admin.dependencies import provide_client_admin
from gateway.auth.scopes import Scope

ADMIN = {"scope": Scope.ADMIN}


class NewClient(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    tenant_id: str
    """The tenant every token of this client acts for (set here by an admin, never by a token)."""
    scopes: str
    """Space-separated, e.g. `models:read jobs:write`."""
    name: Annotated[str, msgspec.Meta(max_length=200)] = ""
    public_jwk: dict[str, Any] | None = None
    """A public JWK for `private_key_jwt` authentication."""
    with_secret: bool = True


class ClientChange(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(max_length=200)] | None = None
    scopes: str | None = None


MAX_PREVIOUS_HOURS = 168


class SecretRotation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    previous_valid_hours: Annotated[int, msgspec.Meta(ge=0, le=MAX_PREVIOUS_HOURS)] = 0
    """How long the secret being replaced is still accepted beside the new one; 0 (the default,
    for a secret that leaked): refused at once."""


class ClientAdminController(Controller):
    path = "/clients"
    tags = ["admin"]
    dependencies = {"clients": Provide(provide_client_admin, sync_to_thread=False)}

    @get("/", opt=ADMIN)
    async def list_clients(
        self, clients: NamedDependency[ClientAdmin], tenant: FromQuery[str | None] = None
    ) -> list[ClientView]:
        """Never shows a secret, nor its hash."""
        return await clients.list(tenant)

    @post("/", opt=ADMIN)
    async def create_client(
        self, data: JSONBody[NewClient], clients: NamedDependency[ClientAdmin]
    ) -> CreatedClient:
        return await clients.create(
            tenant_id=data.tenant_id,
            scopes=data.scopes,
            name=data.name,
            public_jwk=data.public_jwk,
            with_secret=data.with_secret,
        )

    @get("/{client_id:str}", opt=ADMIN)
    async def get_client(self, client_id: FromPath[str], clients: NamedDependency[ClientAdmin]) -> ClientView:
        return client_view(await clients.get(client_id))

    @put("/{client_id:str}", opt=ADMIN)
    async def update_client(
        self, client_id: FromPath[str], data: JSONBody[ClientChange], clients: NamedDependency[ClientAdmin]
    ) -> ClientView:
        return await clients.update(client_id, name=data.name, scopes=data.scopes)

    @post("/{client_id:str}/secret", opt=ADMIN, status_code=200)
    async def rotate_client_secret(
        self,
        client_id: FromPath[str],
        clients: NamedDependency[ClientAdmin],
        data: JSONBody[SecretRotation | None] = None,
    ) -> RotatedSecret:
        """A new secret, in this answer only; the old one is refused at once, or still accepted
        for `previous_valid_hours` (at most 168) so the client's deployments can switch. Tokens
        already issued stay valid until they expire (disable the client to refuse them)."""
        rotation = data or SecretRotation()
        return await clients.rotate_secret(client_id, previous_valid_hours=rotation.previous_valid_hours)

    @delete("/{client_id:str}", opt=ADMIN, status_code=200)
    async def disable_client(
        self, client_id: FromPath[str], clients: NamedDependency[ClientAdmin]
    ) -> ClientView:
        """A disabled client gets no new tokens, and the ones already issued are refused: at once
        by this process, within CLEARANCE_STATE_SYNC_SECONDS by the others."""
        return await clients.disable(client_id)
