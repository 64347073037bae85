"""`/v1/webhooks/secret`: the tenant's Standard Webhooks signing secret, read and rotated by the
tenant itself (scope `jobs:write`, the scope that sets webhooks on jobs), so its receiver can
verify what Clearance sends. A rotation is audited (`admin.change`, action
`webhook_secret.rotate`, never the secret itself)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec
from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.context import AuthContext
from gateway.auth.scopes import Scope
from gateway.runtime import GatewayRuntime
from registry.audit import admin_change_event, append_in_session
from registry.delivery.webhook_secrets import (
    WebhookSecret,
    get_or_create_webhook_secret,
    read_webhook_secret,
    rotate_webhook_secret,
)

MAX_GRACE_HOURS = 168


class Rotation(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    previous_valid_hours: Annotated[int, msgspec.Meta(ge=0, le=MAX_GRACE_HOURS)] = 24
    """How long the secret being replaced keeps signing beside the new one (0: not at all)."""


class WebhookSecretController(Controller):
    path = "/v1/webhooks/secret"
    tags = ["webhooks"]

    @get("/", opt={"scope": Scope.JOBS_WRITE}, summary="The tenant's webhook signing secret")
    async def read(
        self, auth: NamedDependency[AuthContext], runtime: NamedDependency[GatewayRuntime]
    ) -> WebhookSecret:
        """The `whsec_...` secret that signs this tenant's webhooks (created on first use)."""
        return await read_webhook_secret(runtime.sessions, auth.tenant_id, now=dt.datetime.now(dt.UTC))

    @post("/rotate", opt={"scope": Scope.JOBS_WRITE}, status_code=200, summary="Rotate the secret")
    async def rotate(
        self,
        auth: NamedDependency[AuthContext],
        runtime: NamedDependency[GatewayRuntime],
        data: JSONBody[Rotation | None] = None,
    ) -> WebhookSecret:
        """A new secret; the old one keeps signing beside it for `previous_valid_hours` (24 by
        default), so deliveries verify with either while the receiver switches."""
        grace = dt.timedelta(hours=(data or Rotation()).previous_valid_hours)
        return await rotate_audited(runtime.sessions, auth, grace=grace, now=dt.datetime.now(dt.UTC))


async def rotate_audited(
    sessions: async_sessionmaker[AsyncSession], auth: AuthContext, *, grace: dt.timedelta, now: dt.datetime
) -> WebhookSecret:
    """Rotate the caller's tenant's secret and append the `admin.change` event in one transaction."""
    await get_or_create_webhook_secret(sessions, auth.tenant_id, now=now)  # its row exists
    async with sessions() as session, session.begin():
        new, old = await rotate_webhook_secret(session, auth.tenant_id, now=now, grace=grace)
        await append_in_session(
            session,
            [
                admin_change_event(
                    actor_subject=auth.subject,
                    client_id=auth.client_id,
                    request_id=auth.request_id,
                    tenant=auth.tenant_id,
                    action="webhook_secret.rotate",
                    target=auth.tenant_id,
                    before=None if old is None else {"created_at": old.created_at.isoformat()},
                    after={
                        "created_at": new.created_at.isoformat(),
                        "previous_until": new.previous_until and new.previous_until.isoformat(),
                    },
                )
            ],
        )
    return new
