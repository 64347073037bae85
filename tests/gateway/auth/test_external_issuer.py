"""Tokens from a trusted external identity provider whose JWKS is served by a real aiohttp
server on loopback."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from litestar.testing import AsyncTestClient
from sqlalchemy import update

from gateway.app import create_app
from gateway.runtime import GatewayRuntime
from registry.db.catalog_tables import TenantRow
from tests.gateway.auth.conftest import ISSUER, OTHER_TENANT, create_client, fetch_token, make_settings

IDP = "https://idp.example.com/"
AUDIENCE = "clearance-api"


class JwksServer:
    """The IdP's JWKS endpoint, on its own thread and event loop (the app under the test client
    may block the test's loop while it waits); `keys` can be swapped to simulate a rotation."""

    def __init__(self, keys: list[RSAKey | ECKey]) -> None:
        self.keys = keys
        self.requests = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(timeout=10)

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/jwks", self._jwks)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        assert site._server is not None
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _jwks(self, request: web.Request) -> web.Response:
        self.requests += 1
        return web.json_response(
            {"keys": [{**key.as_dict(private=False), "use": "sig"} for key in self.keys]}
        )


@pytest.fixture
async def idp_key() -> RSAKey:
    return RSAKey.generate_key(2048, auto_kid=True)


@pytest.fixture
def jwks_server(idp_key: RSAKey) -> Iterator[JwksServer]:
    server = JwksServer([idp_key])
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
async def http(tmp_path: Path, gateway_db: str, jwks_server: JwksServer) -> AsyncIterator[Any]:
    issuers = [
        {
            "issuer": IDP,
            "jwks_url": f"http://127.0.0.1:{jwks_server.port}/jwks",
            "audience": AUDIENCE,
            "tenant_claim": "org",
            "token_types": ["at+jwt", "jwt"],
        }
    ]
    settings = make_settings(tmp_path, gateway_db, external_issuers=issuers, jwks_min_refresh_seconds=0.5)
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url=ISSUER) as client:
        client.runtime = app.state["runtime"]
        yield client


def idp_token(key: RSAKey | ECKey, **overrides: Any) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": IDP,
        "aud": [AUDIENCE, "other"],
        "sub": "service-account-7",
        "azp": "batch-renderer",
        "org": "acme",
        "scope": "models:read jobs:write admin",
        "iat": now,
        "exp": now + 300,
        "jti": f"idp-{time.monotonic_ns()}",
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    alg = "RS256" if isinstance(key, RSAKey) else "ES256"
    header = {"alg": alg, "typ": overrides.pop("typ", "JWT"), "kid": key.kid}
    return jwt.encode(header, claims, key, algorithms=[alg])


async def _me(http: Any, token: str) -> Any:
    return await http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})


async def test_external_token_gets_tenant_from_claim_and_only_allowed_scopes(
    http: Any, idp_key: RSAKey
) -> None:
    response = await _me(http, idp_token(idp_key))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["tenant_id"] == "acme"
    assert me["issuer"] == IDP
    assert me["client_id"] == "batch-renderer"
    assert me["scopes"] == ["jobs:write", "models:read"]  # `admin` is not granted to this issuer


async def test_external_token_rejections(http: Any, idp_key: RSAKey) -> None:
    foreign = RSAKey.generate_key(2048)
    foreign_with_idp_kid = RSAKey.import_key({**foreign.as_dict(private=True), "kid": idp_key.kid})
    for token in (
        idp_token(idp_key, aud="clearance"),
        idp_token(idp_key, org=None),
        idp_token(idp_key, exp=int(time.time()) - 1),
        idp_token(idp_key, iss="https://idp.example.com"),
        idp_token(foreign_with_idp_kid),
    ):
        assert (await _me(http, token)).status_code == 401


async def test_unknown_kid_flood_fetches_the_jwks_at_most_once(
    http: Any, idp_key: RSAKey, jwks_server: JwksServer
) -> None:
    assert (await _me(http, idp_token(idp_key))).status_code == 200
    assert jwks_server.requests == 1
    attacker = RSAKey.generate_key(2048)
    flood = [
        idp_token(RSAKey.import_key({**attacker.as_dict(private=True), "kid": f"bogus-{index}"}))
        for index in range(40)
    ]
    responses = await asyncio.gather(*(_me(http, token) for token in flood))
    assert {response.status_code for response in responses} == {401}
    assert jwks_server.requests <= 2  # one refresh at most, whatever the number of unknown kids


async def test_idp_rotation_is_picked_up_on_unknown_kid(
    http: Any, idp_key: RSAKey, jwks_server: JwksServer
) -> None:
    assert (await _me(http, idp_token(idp_key))).status_code == 200
    new_key = ECKey.generate_key("P-256", auto_kid=True)
    jwks_server.keys = [new_key, idp_key]
    runtime: GatewayRuntime = http.runtime
    await asyncio.sleep(0.6)  # past the minimum refresh interval (not a timing assertion)
    assert (await _me(http, idp_token(new_key))).status_code == 200
    assert runtime.external_issuers[IDP].jwks.fetch_count == 2


async def test_external_token_naming_a_tenant_that_does_not_exist_is_refused(
    http: Any, idp_key: RSAKey
) -> None:
    response = await _me(http, idp_token(idp_key, org="initech"))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def test_external_token_of_a_tenant_retired_here_is_refused_at_once(http: Any, idp_key: RSAKey) -> None:
    token = idp_token(idp_key, org=OTHER_TENANT)
    assert (await _me(http, token)).status_code == 200
    runtime: GatewayRuntime = http.runtime
    admin = await create_client(runtime.settings, scopes="admin")
    bearer = {"Authorization": f"Bearer {await fetch_token(http, admin)}"}
    retired = await http.delete(f"/admin/tenants/{OTHER_TENANT}", headers=bearer)
    assert retired.status_code == 200, retired.text
    assert (await _me(http, token)).status_code == 401


async def test_external_token_of_a_tenant_retired_elsewhere_is_refused_after_the_state_sync(
    http: Any, idp_key: RSAKey
) -> None:
    token = idp_token(idp_key, org=OTHER_TENANT)
    assert (await _me(http, token)).status_code == 200
    runtime: GatewayRuntime = http.runtime
    async with runtime.sessions() as session:  # another process (the CLI) retires it
        await session.execute(update(TenantRow).where(TenantRow.id == OTHER_TENANT).values(retired=True))
        await session.commit()
    assert await runtime.sync_state()
    assert (await _me(http, token)).status_code == 401
