"""`OPTIONS` answers with every method its path serves.

Litestar 2 answers `OPTIONS` from a handler made with the first route object registered for a
path; where a path's handlers come from more than one controller or router (most of the admin
API), that route object held only some of the methods, and `Allow` named only those (Litestar
issue 4169, fixed in Litestar 3). The 405 answers were right. This hook answers `OPTIONS` from
the app's final routes instead, with the same 204.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response
from litestar.enums import MediaType
from litestar.routes import HTTPRoute
from litestar.status_codes import HTTP_204_NO_CONTENT

ALLOW_STATE_KEY = "allow_by_path"


def allow_by_path(app: Litestar) -> dict[str, str]:
    """The `Allow` value of every HTTP path of `app`, by its template: as declared, and without
    the parameters' types (`{id}`, what Litestar's router gives a `{id:path}` route)."""
    allow: dict[str, str] = {}
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            allow[route.path] = allow[route.path_format] = ", ".join(sorted(route.methods))
    return allow


def answer_options(request: Request[Any, Any, Any]) -> Response[None] | None:
    """The 204 for an `OPTIONS` request, naming every method of its path; None for the rest."""
    if request.scope["method"] != "OPTIONS":
        return None
    allow = request.app.state[ALLOW_STATE_KEY].get(request.scope["path_template"])
    if allow is None:
        return None
    return Response(
        content=None, status_code=HTTP_204_NO_CONTENT, headers={"Allow": allow}, media_type=MediaType.TEXT
    )
