"""`GET /v1/me`: who the token says the caller is (also the cheapest authenticated route)."""

from __future__ import annotations

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency

from gateway.auth.context import AuthContext


class CallerIdentity(msgspec.Struct, kw_only=True):
    subject: str
    client_id: str
    tenant_id: str
    scopes: list[str]
    issuer: str


class IdentityController(Controller):
    path = "/v1/me"
    tags = ["identity"]

    @get("/", summary="The authenticated caller")
    async def me(self, auth: NamedDependency[AuthContext]) -> CallerIdentity:
        return CallerIdentity(
            subject=auth.subject,
            client_id=auth.client_id,
            tenant_id=auth.tenant_id,
            scopes=sorted(auth.scopes),
            issuer=auth.issuer,
        )
