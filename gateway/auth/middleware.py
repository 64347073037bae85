"""Bearer-token authentication for every route not marked `exclude_from_auth`."""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from gateway.auth.errors import AuthenticationRequiredError
from gateway.auth.token_validation import AccessTokenValidator

EXCLUDE_FROM_AUTH = "exclude_from_auth"
"""Route option that makes a route public (`opt={EXCLUDE_FROM_AUTH: True}`)."""


class BearerTokenMiddleware(AbstractAuthenticationMiddleware):
    def __init__(
        self, app: ASGIApp, validator: AccessTokenValidator, exclude: list[str] | None = None
    ) -> None:
        super().__init__(app, exclude=exclude, exclude_from_auth_key=EXCLUDE_FROM_AUTH)
        self._validator = validator

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization")
        if not header:
            raise AuthenticationRequiredError("no Authorization header")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationRequiredError("Authorization is not a Bearer token")
        context = await self._validator.validate(token.strip())
        return AuthenticationResult(user=context, auth=context)
