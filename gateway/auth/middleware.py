"""Bearer-token authentication and the scope check, for every route not marked `exclude_from_auth`.

Convention: `@get("/v1/models", opt={"scope": Scope.MODELS_READ})`. A route without a `scope`
needs only a valid token; a route with `opt={"exclude_from_auth": True}` is public. The middleware
is registered on the app, so a new route cannot escape it. The scope is checked here rather than
in a Litestar guard: Litestar copies the route handler for every guard call, about 30 us per
request on the provider path.
"""

from __future__ import annotations

from typing import Any

import msgspec
from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import ASGIApp

from gateway.auth.errors import AuthenticationRequiredError, InsufficientScopeError
from gateway.auth.token_validation import AccessTokenValidator
from gateway.request_ids import request_id_of

EXCLUDE_FROM_AUTH = "exclude_from_auth"
"""Route option that makes a route public (`opt={EXCLUDE_FROM_AUTH: True}`)."""
SCOPE_OPTION = "scope"
"""Route option naming the scope a token needs (`opt={SCOPE_OPTION: Scope.JOBS_WRITE}`)."""


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
        # the router has matched the route before the route's middleware stack runs
        required = connection.scope["route_handler"].opt.get(SCOPE_OPTION)
        if required is not None and not context.has_scope(str(required)):
            raise InsufficientScopeError(str(required))
        request_id = request_id_of(connection.scope)
        if request_id is not None:  # the validated context is shared by the token's requests
            context = msgspec.structs.replace(context, request_id=request_id)
        return AuthenticationResult(user=context, auth=context)
