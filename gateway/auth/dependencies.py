"""`provide_auth_context`: the caller, for any handler that declares `auth: AuthContext`."""

from __future__ import annotations

from typing import Any

from litestar import Request

from gateway.auth.context import AuthContext
from gateway.auth.errors import AuthenticationRequiredError


def provide_auth_context(request: Request[Any, Any, Any]) -> AuthContext:
    context = request.scope.get("auth")
    if not isinstance(context, AuthContext):
        raise AuthenticationRequiredError("no authenticated caller on this route")
    return context
