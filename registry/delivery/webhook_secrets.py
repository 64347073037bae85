"""Per-tenant Standard Webhooks signing secrets: generated on first use, stored, rotatable.

The secret is kept in clear in the database because signing needs it; whoever can read the
database can forge webhooks, which is the same trust the receiver already places in us.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets

import msgspec
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
    return (await _row(sessions, tenant_id, now)).secret


async def _row(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, now: dt.datetime
) -> WebhookSecretRow:
    """The tenant's secret row, created the first time; a concurrent creation's row wins."""
    async with sessions() as session:
        row = await session.get(WebhookSecretRow, tenant_id)
    if row is not None:
        return row
    created = WebhookSecretRow(tenant_id=tenant_id, secret=generate_webhook_secret(), created_at=now)
    try:
        async with sessions() as session, session.begin():
            session.add(created)
    except IntegrityError:
        async with sessions() as session:
            row = await session.get(WebhookSecretRow, tenant_id)
        if row is None:
            raise
        return row
    return created


class WebhookSecret(msgspec.Struct, frozen=True, kw_only=True):
    """A tenant's secret as the tenant reads it (`GET /v1/webhooks/secret`)."""

    secret: str
    created_at: dt.datetime
    previous_until: dt.datetime | None = None
    """Until then the secret before the last rotation also signs every delivery."""


async def read_webhook_secret(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, *, now: dt.datetime
) -> WebhookSecret:
    """The tenant's secret (created the first time), with how long the previous one still signs."""
    row = await _row(sessions, tenant_id, now)
    return _view(row, now)


async def signing_secrets(
    sessions: async_sessionmaker[AsyncSession], tenant_id: str, *, now: dt.datetime
) -> tuple[str, ...]:
    """The secrets a delivery is signed with now: the current one, and the previous one while it
    is within its grace after a rotation."""
    row = await _row(sessions, tenant_id, now)
    previous, until = row.previous_secret, row.previous_until
    return (row.secret, previous) if previous and until is not None and now < until else (row.secret,)


async def rotate_webhook_secret(
    session: AsyncSession, tenant_id: str, *, now: dt.datetime, grace: dt.timedelta = dt.timedelta(0)
) -> tuple[WebhookSecret, WebhookSecret | None]:
    """Replace the tenant's secret in `session`'s transaction (the caller commits, with its audit
    event); the old one keeps signing beside the new one for `grace`. Returns (new, old)."""
    if grace < dt.timedelta(0):
        raise ValueError(f"a rotation's grace cannot be negative, got {grace}")
    secret = generate_webhook_secret()
    row = await session.get(WebhookSecretRow, tenant_id, with_for_update=True)
    before = None if row is None else _view(row, now)
    if row is None:
        row = WebhookSecretRow(tenant_id=tenant_id, secret=secret, created_at=now)
        session.add(row)
    else:
        row.previous_secret = row.secret if grace else None
        row.previous_until = now + grace if grace else None
        row.secret = secret
        row.created_at = now
    await session.flush()
    return _view(row, now), before


def _view(row: WebhookSecretRow, now: dt.datetime) -> WebhookSecret:
    until = row.previous_until if row.previous_until is not None and now < row.previous_until else None
    return WebhookSecret(secret=row.secret, created_at=row.created_at, previous_until=until)
