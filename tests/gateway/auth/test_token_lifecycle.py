"""Key rotation, revocation (RFC 7009), introspection (RFC 7662), discovery (RFC 8414) and the
rate limit on failed client authentication."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text, update

from gateway.app import create_app
from gateway.oauth.auth_events import LoggingAuthEventRecorder
from gateway.oauth.key_sealing import KeySealer
from gateway.oauth.pepper import load_pepper
from gateway.oauth.signing_key_store import rotate_signing_key
from gateway.runtime import GatewayRuntime
from gateway.settings import Settings
from registry.db.engine import create_engine, session_factory
from registry.identity.clients import OAuthClientRecord
from tests.gateway.auth.conftest import ISSUER, RegisterClient, create_client, fetch_token, make_settings


def _runtime(app: Litestar) -> GatewayRuntime:
    runtime = app.state["runtime"]
    assert isinstance(runtime, GatewayRuntime)
    return runtime


def _kid(token: str) -> str:
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


async def _rotate(settings: Settings) -> str:
    """What `clearance keys rotate` does, against the same database."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            lifetime = dt.timedelta(seconds=settings.token_lifetime_seconds + settings.clock_leeway_seconds)
            return await rotate_signing_key(
                session, KeySealer(load_pepper(settings)), dt.datetime.now(dt.UTC), lifetime
            )
    finally:
        await engine.dispose()


async def _me(http: Any, token: str) -> int:
    response = await http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    status: int = response.status_code
    return status


async def test_rotation_keeps_old_tokens_valid_until_they_expire(
    http: Any, app: Litestar, settings: Settings, register: RegisterClient
) -> None:
    client = await register()
    old_token = await fetch_token(http, client)
    old_kid = _kid(old_token)

    new_kid = await _rotate(settings)
    runtime = _runtime(app)
    assert await runtime.sync_state()

    new_token = await fetch_token(http, client)
    assert _kid(new_token) == new_kid != old_kid
    assert await _me(http, old_token) == 200
    assert await _me(http, new_token) == 200
    jwks = (await http.get("/.well-known/jwks.json")).json()
    assert [key["kid"] for key in jwks["keys"]] == [new_kid, old_kid]
    assert all("d" not in key for key in jwks["keys"])

    # Once every token the old key signed has expired, the old key is gone everywhere.
    retired = runtime.keyring.verification_key(old_kid, 0.0)
    assert retired is not None
    after = (
        dt.datetime.now(dt.UTC)
        + dt.timedelta(seconds=settings.token_lifetime_seconds + settings.clock_leeway_seconds + 1)
    ).timestamp()
    assert runtime.keyring.verification_key(old_kid, after) is None
    assert [key["kid"] for key in runtime.keyring.published(after)] == [new_kid]


async def test_revoked_token_is_rejected_and_only_by_its_owner(
    http: Any, app: Litestar, register: RegisterClient
) -> None:
    owner = await register()
    other = await register()
    token = await fetch_token(http, owner)

    refused = await http.post(
        "/oauth/revoke", data={"token": token}, auth=(other.client_id, other.client_secret)
    )
    assert refused.status_code == 400
    assert await _me(http, token) == 200

    revoked = await http.post(
        "/oauth/revoke", data={"token": token}, auth=(owner.client_id, owner.client_secret)
    )
    assert revoked.status_code == 200
    assert await _me(http, token) == 401
    again = await http.post(
        "/oauth/revoke", data={"token": token}, auth=(owner.client_id, owner.client_secret)
    )
    assert again.status_code == 200
    garbage = await http.post(
        "/oauth/revoke", data={"token": "garbage"}, auth=(owner.client_id, owner.client_secret)
    )
    assert garbage.status_code == 200
    unauthenticated = await http.post("/oauth/revoke", data={"token": token})
    assert unauthenticated.status_code in (400, 401)


async def test_revocation_reaches_another_server_through_the_database(
    tmp_path: Path, settings: Settings, register: RegisterClient
) -> None:
    client = await register()
    first, second = create_app(settings), create_app(settings)
    async with (
        AsyncTestClient(app=first, base_url=ISSUER) as one,
        AsyncTestClient(app=second, base_url=ISSUER) as two,
    ):
        token = await fetch_token(one, client)
        assert await _me(two, token) == 200
        await one.post("/oauth/revoke", data={"token": token}, auth=(client.client_id, client.client_secret))
        assert await _runtime(second).sync_state()
        assert await _me(two, token) == 401


async def test_introspection_is_admin_only(http: Any, register: RegisterClient) -> None:
    admin = await register(scopes="admin")
    plain = await register(scopes="models:read")
    admin_token = await fetch_token(http, admin)
    plain_token = await fetch_token(http, plain)

    forbidden = await http.post(
        "/oauth/introspect", data={"token": plain_token}, headers={"Authorization": f"Bearer {plain_token}"}
    )
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in forbidden.headers["www-authenticate"]

    active = await http.post(
        "/oauth/introspect", data={"token": plain_token}, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert active.status_code == 200
    body = active.json()
    assert body["active"] is True
    assert body["client_id"] == plain.client_id
    assert body["scope"] == "models:read"
    inactive = await http.post(
        "/oauth/introspect", data={"token": "nope"}, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert inactive.json() == {"active": False}


async def test_metadata_document(http: Any) -> None:
    metadata = (await http.get("/.well-known/oauth-authorization-server")).json()
    assert metadata["issuer"] == ISSUER
    assert metadata["token_endpoint"] == f"{ISSUER}/oauth/token"
    assert metadata["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert metadata["grant_types_supported"] == ["client_credentials"]
    assert "private_key_jwt" in metadata["token_endpoint_auth_methods_supported"]
    assert "admin" in metadata["scopes_supported"]


async def test_failed_client_authentication_is_rate_limited_and_recorded(
    tmp_path: Path, gateway_db: str
) -> None:
    settings = make_settings(tmp_path, gateway_db, auth_failure_limit=3, auth_failure_window_seconds=600)
    client = await create_client(settings)
    recorder = LoggingAuthEventRecorder()
    app = create_app(settings, auth_events=recorder)
    async with AsyncTestClient(app=app, base_url=ISSUER) as http:
        form = {"grant_type": "client_credentials"}
        for _ in range(3):
            wrong = await http.post("/oauth/token", data=form, auth=(client.client_id, "guess"))
            assert wrong.status_code == 401
        limited = await http.post("/oauth/token", data=form, auth=(client.client_id, client.client_secret))
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) > 0
        assert limited.headers["content-type"].startswith("application/problem+json")
        assert recorder.recorded == 3


async def test_failed_client_authentication_lands_in_the_audit_log(
    app: Litestar, http: Any, register: RegisterClient
) -> None:
    client = await register()
    wrong = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, "guess")
    )
    assert wrong.status_code == 401
    runtime = _runtime(app)
    assert runtime.audit_log is not None
    async with runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT kind, client_id, payload FROM audit_events WHERE kind = 'auth.failure'")
            )
        ).all()
    assert len(rows) == 1
    assert rows[0].client_id == client.client_id
    assert "127.0.0.1" in rows[0].payload or "testclient" in rows[0].payload


async def test_disabling_a_client_stops_its_tokens_at_the_next_sync(
    app: Litestar, http: Any, register: RegisterClient
) -> None:
    client = await register()
    token = await fetch_token(http, client)
    assert await _me(http, token) == 200
    runtime = _runtime(app)
    async with runtime.sessions() as session:
        await session.execute(
            update(OAuthClientRecord)
            .where(OAuthClientRecord.client_id == client.client_id)
            .values(disabled=True)
        )
        await session.commit()
    assert await runtime.sync_state()
    assert await _me(http, token) == 401
    refused = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.client_secret),
    )
    assert refused.json()["error"] == "invalid_client"
