"""The one guard: it reads the scope a route names in its options.

Convention: `@get("/v1/models", opt={"scope": Scope.MODELS_READ})`. A route without a `scope`
needs only a valid token; a route with `opt={"exclude_from_auth": True}` is public. The guard is
registered on the app, so a new route cannot escape it.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers import BaseRouteHandler

from gateway.auth.context import AuthContext
from gateway.auth.errors import AuthenticationRequiredError, InsufficientScopeError
from gateway.auth.middleware import EXCLUDE_FROM_AUTH

SCOPE_OPTION = "scope"


async def require_scope(
    connection: ASGIConnection[Any, Any, Any, Any], route_handler: BaseRouteHandler
) -> None:
    """Async although it awaits nothing: Litestar runs a sync guard in a worker thread, a hop
    there and back on every authenticated request."""
    if route_handler.opt.get(EXCLUDE_FROM_AUTH):
        return
    context = connection.scope.get("auth")
    if not isinstance(context, AuthContext):
        raise AuthenticationRequiredError("route needs authentication but none was performed")
    required = route_handler.opt.get(SCOPE_OPTION)
    if required is not None and not context.has_scope(str(required)):
        raise InsufficientScopeError(str(required))
