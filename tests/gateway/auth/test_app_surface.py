"""The app as a whole: problem details for every error, 413, the scope guard on every route,
OpenAPI 3.1 with docs, health probes."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec
from litestar import Litestar, get, post
from litestar.di import NamedDependency
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.auth.context import AuthContext
from gateway.auth.middleware import EXCLUDE_FROM_AUTH
from gateway.auth.scopes import Scope
from gateway.settings import Settings
from tests.gateway.auth.conftest import ISSUER, RegisterClient, create_client, fetch_token, make_settings


class JobDraft(msgspec.Struct, forbid_unknown_fields=True):
    prompt: str
    steps: int


@post("/test/jobs", opt={"scope": Scope.JOBS_WRITE})
async def draft_job(data: JobDraft, auth: NamedDependency[AuthContext]) -> dict[str, Any]:
    return {"prompt": data.prompt, "tenant": auth.tenant_id}


@get("/test/crash", opt={"scope": Scope.MODELS_READ})
async def crash() -> None:
    raise RuntimeError("secret internals /etc/passwd")


EXTRA = [draft_job, crash]


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    return body


async def _client_for(settings: Settings, app: Litestar, scopes: str) -> Any:
    return await create_client(settings, scopes=scopes)


async def test_scope_guard_and_auth_context(settings: Settings) -> None:
    app = create_app(settings, extra_route_handlers=EXTRA)
    writer = await create_client(settings, scopes="jobs:write")
    reader = await create_client(settings, scopes="models:read")
    async with AsyncTestClient(app=app, base_url=ISSUER) as http:
        writer_token = await fetch_token(http, writer)
        reader_token = await fetch_token(http, reader)
        ok = await http.post(
            "/test/jobs",
            json={"prompt": "a cat", "steps": 8},
            headers={"Authorization": f"Bearer {writer_token}"},
        )
        assert ok.status_code == 201
        assert ok.json() == {"prompt": "a cat", "tenant": "acme"}
        denied = await http.post(
            "/test/jobs",
            json={"prompt": "a cat", "steps": 8},
            headers={"Authorization": f"Bearer {reader_token}"},
        )
        assert _problem(denied, 403)["scope"] == "jobs:write"


async def test_validation_errors_name_the_field(settings: Settings) -> None:
    app = create_app(settings, extra_route_handlers=EXTRA)
    writer = await create_client(settings, scopes="jobs:write")
    async with AsyncTestClient(app=app, base_url=ISSUER) as http:
        headers = {"Authorization": f"Bearer {await fetch_token(http, writer)}"}
        bad_type = await http.post("/test/jobs", json={"prompt": "a cat", "steps": "many"}, headers=headers)
        body = _problem(bad_type, 400)
        assert any(
            "steps" in (error["field"] or "") + (error["message"] or "") for error in body["errors"]
        ), body
        extra_field = await http.post(
            "/test/jobs", json={"prompt": "x", "steps": 1, "tenant_id": "globex"}, headers=headers
        )
        assert "tenant_id" in str(_problem(extra_field, 400))


async def test_500_is_generic_and_does_not_leak(settings: Settings) -> None:
    app = create_app(settings, extra_route_handlers=EXTRA)
    reader = await create_client(settings, scopes="models:read")
    async with AsyncTestClient(app=app, base_url=ISSUER, raise_server_exceptions=False) as http:
        response = await http.get(
            "/test/crash", headers={"Authorization": f"Bearer {await fetch_token(http, reader)}"}
        )
        body = _problem(response, 500)
        assert "passwd" not in response.text
        assert "RuntimeError" not in response.text
        assert body["title"] == "Internal Server Error"


async def test_404_405_and_413(tmp_path: Path, gateway_db: str) -> None:
    settings = make_settings(tmp_path, gateway_db, max_body_bytes=1024)
    async with AsyncTestClient(app=create_app(settings), base_url=ISSUER) as http:
        _problem(await http.get("/no/such/route"), 404)
        _problem(await http.get("/oauth/token"), 405)
        big = await http.post(
            "/oauth/token",
            content=b"grant_type=client_credentials&x=" + b"a" * 4096,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        _problem(big, 413)


async def test_every_route_needs_a_token_unless_public(app: Litestar, http: Any) -> None:
    public = {
        "/health/live",
        "/health/ready",
        "/oauth/token",
        "/oauth/revoke",
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
        "/v1/images/files/{job_id}/{index}",  # a signed, expiring link instead (test_image_links.py)
    }
    schema = (await http.get("/schema/openapi.json")).json()
    assert schema["openapi"].startswith("3.1")
    for path, operations in schema["paths"].items():
        for method in operations:
            # Path parameters get a value every converter accepts (int or str), so the request
            # reaches routing and must be stopped by authentication, not by a 404.
            response = await http.request(method.upper(), re.sub(r"\{[^}]+\}", "1", path))
            if path in public:
                assert response.status_code != 401, (method, path)
            else:
                assert response.status_code == 401, (method, path)
                assert response.headers["www-authenticate"].startswith("Bearer")
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            if handler.opt.get(EXCLUDE_FROM_AUTH):
                untyped = re.sub(r":[a-z]+\}", "}", route.path)  # `{index:int}` as the schema writes it
                assert untyped in public or route.path.startswith("/schema"), route.path


async def test_openapi_docs_page(http: Any) -> None:
    page = await http.get("/schema")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    schema = (await http.get("/schema/openapi.json")).json()
    assert "/oauth/token" in schema["paths"]
    assert (
        schema["components"]["securitySchemes"]["oauth2"]["flows"]["clientCredentials"]["tokenUrl"]
        == f"{ISSUER}/oauth/token"
    )


async def test_health_ready_and_live(http: Any) -> None:
    assert (await http.get("/health/live")).json() == {"status": "ok"}
    assert (await http.get("/health/ready")).json() == {"status": "ok"}


async def test_ready_fails_when_the_database_is_unreachable(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, "postgresql+asyncpg://postgres@127.0.0.1:9/unreachable", readiness_timeout_seconds=2
    )
    async with AsyncTestClient(app=create_app(settings), base_url=ISSUER) as http:
        assert (await http.get("/health/live")).status_code == 200
        body = _problem(await http.get("/health/ready"), 503)
        assert "unreachable" in body["detail"]
        token = await http.post("/oauth/token", data={"grant_type": "client_credentials"}, auth=("a", "b"))
        _problem(token, 503)


async def test_unused_register_fixture_keeps_client_ids_unique(register: RegisterClient) -> None:
    first, second = await register(), await register()
    assert first.client_id != second.client_id
    assert first.client_secret != second.client_secret
    assert first.client_secret is not None
    assert len(first.client_secret) >= 43
