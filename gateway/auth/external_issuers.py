"""Tokens from a company's own identity provider, verified against its published JWKS.

The JWKS is cached. An unknown `kid` triggers a refresh, but only one fetch runs at a time per
issuer (the others wait for its result) and never more often than the minimum interval, so a
flood of tokens with made-up `kid`s cannot hammer the identity provider.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, JWKRegistry, RSAKey

from gateway.auth.context import AuthContext
from gateway.auth.errors import InvalidTokenError
from gateway.auth.jwt_claims import check_audience, check_header, check_time_claims, string_claim
from gateway.settings import ExternalIssuerSettings

log = logging.getLogger(__name__)

JwksFetcher = Callable[[str], Awaitable[dict[str, Any]]]
"""Fetches a JWKS document (GET url -> parsed JSON)."""

VerificationKey = ECKey | RSAKey


class JwksCache:
    def __init__(
        self,
        url: str,
        fetch: JwksFetcher,
        *,
        cache_seconds: float,
        min_refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._fetch = fetch
        self._cache_seconds = cache_seconds
        self._min_refresh_seconds = min_refresh_seconds
        self._clock = clock
        self._keys: dict[str, VerificationKey] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()
        self.fetch_count = 0

    async def key(self, kid: str) -> VerificationKey | None:
        stale = self._fetched_at is None or self._clock() - self._fetched_at >= self._cache_seconds
        if kid not in self._keys or stale:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:  # single flight: whoever waited here sees the fresh result
            if self._fetched_at is not None and self._clock() - self._fetched_at < self._min_refresh_seconds:
                return
            self._fetched_at = self._clock()
            self.fetch_count += 1
            try:
                document = await self._fetch(self._url)
                self._keys = _parse_jwks(document)
            except Exception as exc:
                log.warning("JWKS refresh from %s failed: %r", self._url, exc)


def _parse_jwks(document: dict[str, Any]) -> dict[str, VerificationKey]:
    keys: dict[str, VerificationKey] = {}
    entries = document.get("keys")
    if not isinstance(entries, list):
        raise ValueError("JWKS has no keys list")
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        kid = entry.get("kid")
        if not isinstance(kid, str) or entry.get("kty") not in ("EC", "RSA"):
            continue
        public = {
            name: value for name, value in entry.items() if name not in ("d", "p", "q", "dp", "dq", "qi")
        }
        try:
            key = JWKRegistry.import_key(public)
        except (JoseError, ValueError) as exc:
            log.warning("JWKS key %s skipped: %s", kid, exc)
            continue
        if isinstance(key, ECKey | RSAKey):
            keys[kid] = key
    return keys


class ExternalIssuer:
    def __init__(self, config: ExternalIssuerSettings, jwks: JwksCache, leeway: float) -> None:
        self.config = config
        self.jwks = jwks
        self._leeway = leeway
        self._allowed_scopes = frozenset(config.allowed_scopes)

    async def validate(self, token: str, header: dict[str, Any], now: float) -> AuthContext:
        config = self.config
        kid = check_header(header, config.algorithms, config.token_types)
        key = await self.jwks.key(kid)
        if key is None:
            raise InvalidTokenError("unknown kid")
        try:
            claims = jwt.decode(token, key, algorithms=list(config.algorithms)).claims
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError(f"signature: {exc}") from exc
        if claims.get("iss") != config.issuer:
            raise InvalidTokenError("issuer mismatch")
        check_audience(claims, config.audience)
        exp = check_time_claims(claims, now, self._leeway)
        subject = string_claim(claims, "sub")
        tenant = string_claim(claims, config.tenant_claim)
        client_id = claims.get("client_id") or claims.get("azp") or subject
        jti = claims.get("jti")
        return AuthContext(
            subject=subject,
            client_id=str(client_id),
            tenant_id=tenant,
            scopes=self._allowed_scopes.intersection(_scopes(claims)),
            issuer=config.issuer,
            token_id=jti if isinstance(jti, str) else "",
            expires_at=exp,
        )


def _scopes(claims: dict[str, Any]) -> list[str]:
    scope = claims.get("scope")
    if isinstance(scope, str):
        return scope.split()
    scp = claims.get("scp")
    if isinstance(scp, list):
        return [item for item in scp if isinstance(item, str)]
    if isinstance(scp, str):
        return scp.split()
    return []
