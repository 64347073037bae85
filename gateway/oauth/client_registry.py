"""Registering OAuth clients and looking them up."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, RSAKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.scopes import parse_scopes
from gateway.oauth.client_secrets import ClientSecretHasher, generate_client_id, generate_client_secret
from registry.identity.clients import OAuthClientRecord

_PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "k"})


class ClientRegistrationError(ValueError):
    """A client cannot be registered as asked (bad scopes, bad public key, no credential)."""


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client_id: str
    tenant_id: str
    scopes: tuple[str, ...]
    client_secret: str | None
    """Shown once, at registration; only its hash is stored."""


def check_public_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """A client's public key for private_key_jwt: EC P-256 or RSA, no private members."""
    present = _PRIVATE_MEMBERS.intersection(jwk)
    if present:
        raise ClientRegistrationError(f"public_jwk: carries private members {sorted(present)}")
    try:
        key = JWKRegistry.import_key(jwk)
    except (JoseError, ValueError, TypeError) as exc:
        raise ClientRegistrationError(f"public_jwk: not a usable JWK ({exc})") from exc
    if not isinstance(key, ECKey | RSAKey):
        raise ClientRegistrationError("public_jwk: must be an EC or RSA key")
    if isinstance(key, ECKey) and key.curve_name != "P-256":
        raise ClientRegistrationError("public_jwk: EC keys must use P-256 (ES256)")
    return dict(jwk)


async def register_client(
    session: AsyncSession,
    hasher: ClientSecretHasher,
    *,
    tenant_id: str,
    scopes: str,
    name: str = "",
    public_jwk: dict[str, Any] | None = None,
    with_secret: bool = True,
    now: dt.datetime,
) -> RegisteredClient:
    """Create a client; commit. The secret is returned here and never again."""
    try:
        scope_list = parse_scopes(scopes)
    except ValueError as exc:
        raise ClientRegistrationError(f"scopes: {exc}") from exc
    if not scope_list:
        raise ClientRegistrationError("scopes: at least one scope is required")
    if not tenant_id.strip():
        raise ClientRegistrationError("tenant: required")
    jwk = check_public_jwk(public_jwk) if public_jwk is not None else None
    if not with_secret and jwk is None:
        raise ClientRegistrationError("a client needs a secret or a public key")
    secret = generate_client_secret() if with_secret else None
    record = OAuthClientRecord(
        client_id=generate_client_id(),
        tenant_id=tenant_id,
        name=name,
        secret_hash=hasher.hash(secret) if secret is not None else None,
        public_jwk=jwk,
        scopes=list(scope_list),
        disabled=False,
        created_at=now,
    )
    session.add(record)
    await session.commit()
    return RegisteredClient(
        client_id=record.client_id, tenant_id=tenant_id, scopes=scope_list, client_secret=secret
    )


async def find_clients(session: AsyncSession, client_ids: Iterable[str]) -> dict[str, OAuthClientRecord]:
    ids = {client_id for client_id in client_ids if 0 < len(client_id) <= 64}
    if not ids:
        return {}
    rows = await session.scalars(select(OAuthClientRecord).where(OAuthClientRecord.client_id.in_(ids)))
    return {row.client_id: row for row in rows}
