"""Every admin route, as listed by the OpenAPI schema, refuses callers without the `admin` scope."""

from __future__ import annotations

from tests.gateway.api.conftest import Api
from tests.gateway.api.routes import fill, operations

EVERY_OTHER_SCOPE = "models:read jobs:write jobs:read audit:read"
TOKEN_ONLY = {("GET", "/v1/me")}
"""Routes that need a valid token and no scope (the caller's own identity)."""
SIGNED_LINK = {("GET", "/v1/images/files/{job_id}/{index}")}
"""Routes that take no token but a signed, expiring link (tests/gateway/images and
tests/gateway/storage/test_image_links.py check that a link cannot be forged or widened)."""


async def test_every_admin_route_needs_the_admin_scope(api: Api) -> None:
    admin_operations = operations(api.app, "/admin")
    assert len(admin_operations) >= 30, admin_operations
    headers = await api.headers(scopes=EVERY_OTHER_SCOPE)
    for method, template in admin_operations:
        path = fill(template)
        body: dict[str, object] | None = {} if method in ("POST", "PUT") else None
        anonymous = await api.http.request(method, path, json=body)
        assert anonymous.status_code == 401, (method, template, anonymous.text)
        refused = await api.http.request(method, path, headers=headers, json=body)
        assert refused.status_code == 403, (method, template, refused.text)
        assert refused.json()["scope"] == "admin", (method, template)


async def test_every_api_route_names_a_scope(api: Api) -> None:
    """A route without a scope would only need a valid token: none of the API's may be so. Each
    route is refused to at least one of two tokens with different single scopes."""
    tokens = [await api.headers(scopes="jobs:read"), await api.headers(scopes="audit:read")]
    every = operations(api.app, "/v1") + operations(api.app, "/admin")
    assert set(every) >= SIGNED_LINK  # the exemption names a route that exists
    for method, template in every:
        if (method, template) in TOKEN_ONLY | SIGNED_LINK:
            continue
        body: dict[str, object] | None = {} if method in ("POST", "PUT") else None
        statuses = [
            (await api.http.request(method, fill(template), headers=headers, json=body)).status_code
            for headers in tokens
        ]
        assert 403 in statuses, (method, template, statuses)
