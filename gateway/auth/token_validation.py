"""Validation of bearer access tokens: ours (RFC 9068, ES256) and trusted external issuers'.

Fast path: a token seen before is answered from a bounded cache of its `AuthContext`; its
expiry and the in-memory revocation set are still checked on every request. A new token costs
one base64/JSON peek and one ES256 verification against an already parsed key.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from joserfc import jwt
from joserfc.errors import JoseError

from gateway.auth.context import AuthContext
from gateway.auth.errors import InvalidTokenError
from gateway.auth.external_issuers import ExternalIssuer
from gateway.auth.jwt_claims import check_audience, check_header, check_time_claims, peek, string_claim
from gateway.auth.tenant_status import TenantStatus
from gateway.oauth.disabled_clients import DisabledClients
from gateway.oauth.keyring import SIGNING_ALGORITHM, SigningKeyring
from gateway.oauth.revocation import RevocationList

ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
_OWN_ALGORITHMS = (SIGNING_ALGORITHM,)
_OWN_TYPES = (ACCESS_TOKEN_TYPE,)


class AccessTokenValidator:
    def __init__(
        self,
        *,
        keyring: SigningKeyring,
        revocations: RevocationList,
        disabled_clients: DisabledClients | None = None,
        tenant_status: TenantStatus | None = None,
        issuer: str,
        audience: str,
        leeway_seconds: float,
        max_token_bytes: int,
        external_issuers: Mapping[str, ExternalIssuer],
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
    ) -> None:
        self._keyring = keyring
        self._revocations = revocations
        self._disabled_clients = disabled_clients if disabled_clients is not None else DisabledClients()
        self._tenant_status = tenant_status
        """Checks that the token's tenant exists and is not retired."""
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_seconds
        self._max_token_bytes = max_token_bytes
        self._external = dict(external_issuers)
        self.clock = clock
        self._cache: dict[str, AuthContext] = {}
        self._cache_size = cache_size

    async def validate(self, token: str) -> AuthContext:
        """The caller's context, or `InvalidTokenError` (reason in the message, for logs)."""
        if len(token) > self._max_token_bytes:
            raise InvalidTokenError("token too long")
        now = self.clock()
        context = self._cache.get(token)
        if context is None:
            context = await self._verify(token, now)
            if len(self._cache) >= self._cache_size:
                self._cache.pop(next(iter(self._cache)))
            self._cache[token] = context
        if now >= context.expires_at:
            self._cache.pop(token, None)
            raise InvalidTokenError("expired")
        if context.token_id and self._revocations.is_revoked(context.token_id):
            raise InvalidTokenError("revoked")
        if context.issuer == self._issuer and context.client_id in self._disabled_clients:
            raise InvalidTokenError("client disabled")
        await self.check_tenant(context)
        return context

    async def check_tenant(self, context: AuthContext) -> None:
        """A token acts for an active tenant only: ours name a client's tenant, which may have been
        retired since; an external issuer's claim may name any tenant."""
        if self._tenant_status is not None and not await self._tenant_status.is_active(context.tenant_id):
            raise InvalidTokenError("unknown or retired tenant")

    def validate_own(self, token: str) -> AuthContext:
        """Our own tokens only, without the cache (revocation and introspection)."""
        if len(token) > self._max_token_bytes:
            raise InvalidTokenError("token too long")
        now = self.clock()
        header, payload = peek(token)
        if payload.get("iss") != self._issuer:
            raise InvalidTokenError("issuer mismatch")
        context = self._verify_own(token, header, now)
        if context.token_id and self._revocations.is_revoked(context.token_id):
            raise InvalidTokenError("revoked")
        if context.client_id in self._disabled_clients:
            raise InvalidTokenError("client disabled")
        return context

    async def _verify(self, token: str, now: float) -> AuthContext:
        header, payload = peek(token)
        issuer = payload.get("iss")
        if issuer == self._issuer:
            return self._verify_own(token, header, now)
        external = self._external.get(issuer) if isinstance(issuer, str) else None
        if external is None:
            raise InvalidTokenError("unknown issuer")
        return await external.validate(token, header, now)

    def _verify_own(self, token: str, header: dict[str, object], now: float) -> AuthContext:
        kid = check_header(header, _OWN_ALGORITHMS, _OWN_TYPES)
        key = self._keyring.verification_key(kid, now)
        if key is None:
            raise InvalidTokenError("unknown kid")
        try:
            claims = jwt.decode(token, key, algorithms=list(_OWN_ALGORITHMS)).claims
        except (JoseError, ValueError) as exc:
            raise InvalidTokenError(f"signature: {exc}") from exc
        if claims.get("iss") != self._issuer:
            raise InvalidTokenError("issuer mismatch")
        check_audience(claims, self._audience)
        exp = check_time_claims(claims, now, self._leeway)
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise InvalidTokenError("scope is not a string")
        return AuthContext(
            subject=string_claim(claims, "sub"),
            client_id=string_claim(claims, "client_id"),
            tenant_id=string_claim(claims, "tenant_id"),
            scopes=frozenset(scope.split()),
            issuer=self._issuer,
            token_id=string_claim(claims, "jti"),
            expires_at=exp,
        )
