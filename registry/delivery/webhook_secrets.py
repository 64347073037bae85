"""Per-tenant Standard Webhooks signing secrets: generated on first use, stored, rotatable.

The secret is kept in clear in the database because signing needs it; whoever can read the
database can forge webhooks, which is the same trust the receiver already places in us.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.delivery.tables import WebhookSecretRow

SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
SECRET_BYTES = 32


def generate_webhook_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_key_bytes(secret: str) -> bytes:
    """The HMAC key inside a `whsec_...` secret."""
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)


async def get_or_create_webhook_secret(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, *, now: dt.datetime
) -> str:
    """The tenant's secret, created in its own transaction the first time (race-safe)."""
    async with sessions() as session:
        row = await session.get(WebhookSecretRow, tenant_id)
        if row is not None:
            return row.secret
    secret = generate_webhook_secret()
    try:
        async with sessions() as session, session.begin():
            session.add(WebhookSecretRow(tenant_id=tenant_id, secret=secret, created_at=now))
    except IntegrityError:
        async with sessions() as session:
            row = await session.get(WebhookSecretRow, tenant_id)
            if row is None:
                raise
            return row.secret
    return secret


async def rotate_webhook_secret(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, *, now: dt.datetime
) -> str:
    """Replace the tenant's secret; deliveries after this are signed with the new one."""
    secret = generate_webhook_secret()
    async with sessions() as session, session.begin():
        row = await session.get(WebhookSecretRow, tenant_id)
        if row is None:
            session.add(WebhookSecretRow(tenant_id=tenant_id, secret=secret, created_at=now))
        else:
            row.secret = secret
            row.created_at = now
    return secret
