"""Issuing access tokens as RFC 9068 JWTs signed with the keyring's active ES256 key."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from joserfc import jwt

from gateway.auth.token_validation import ACCESS_TOKEN_TYPE
from gateway.oauth.keyring import SIGNING_ALGORITHM, SigningKeyring


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str
    jti: str


class AccessTokenIssuer:
    def __init__(
        self,
        keyring: SigningKeyring,
        *,
        issuer: str,
        audience: str,
        lifetime_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keyring = keyring
        self._issuer = issuer
        self._audience = audience
        self._lifetime = lifetime_seconds
        self.clock = clock

    def issue(self, *, client_id: str, tenant_id: str, scopes: tuple[str, ...]) -> IssuedToken:
        key = self._keyring.active()
        now = int(self.clock())
        jti = secrets.token_urlsafe(16)
        scope = " ".join(scopes)
        claims = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": client_id,
            "client_id": client_id,
            "tenant_id": tenant_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + self._lifetime,
            "jti": jti,
        }
        header = {"alg": SIGNING_ALGORITHM, "typ": ACCESS_TOKEN_TYPE, "kid": key.kid}
        token = jwt.encode(header, claims, key.private_key, algorithms=[SIGNING_ALGORITHM])
        return IssuedToken(access_token=token, expires_in=self._lifetime, scope=scope, jti=jti)
