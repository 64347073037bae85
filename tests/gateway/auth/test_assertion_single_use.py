"""private_key_jwt client assertions are single use across gateway processes: two apps (separate
runtimes) on one database, real SQLite and real PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from gateway.app import create_app
from gateway.oauth.assertion_replay import UsedAssertion, purge_expired_assertions, record_first_use
from gateway.oauth.auth_events import LoggingAuthEventRecorder
from gateway.oauth.client_registry import RegisteredClient
from gateway.runtime import GatewayRuntime
from gateway.settings import Settings
from registry.db.engine import create_engine, session_factory
from registry.identity.used_client_assertions import UsedClientAssertionRecord
from tests.gateway.auth.conftest import ISSUER, TENANT, add_tenants, create_client, make_settings

ASSERTION_FORM = {
    "grant_type": "client_credentials",
    "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
}


class _AssertionClient:
    """A registered private_key_jwt client that signs its own assertions."""

    def __init__(self, registered: RegisteredClient, key: ECKey) -> None:
        self.client_id = registered.client_id
        self._key = key

    def assertion(self, jti: str, *, exp: int | None = None) -> str:
        now = int(time.time())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": f"{ISSUER}/oauth/token",
            "iat": now,
            "exp": now + 60 if exp is None else exp,
            "jti": jti,
        }
        return jwt.encode({"alg": "ES256"}, claims, self._key, algorithms=["ES256"])


@pytest.fixture
def shared_settings(tmp_path: Path, migrated_url: str) -> Settings:
    asyncio.run(add_tenants(migrated_url, TENANT))
    return make_settings(tmp_path, migrated_url)


@pytest.fixture
async def signer(shared_settings: Settings) -> _AssertionClient:
    key = ECKey.generate_key("P-256", auto_kid=True)
    registered = await create_client(
        shared_settings, scopes="jobs:read", public_jwk=key.as_dict(private=False), with_secret=False
    )
    return _AssertionClient(registered, key)


def _runtime(app: Litestar) -> GatewayRuntime:
    runtime = app.state["runtime"]
    assert isinstance(runtime, GatewayRuntime)
    return runtime


def _answer(response: Any) -> tuple[int, dict[str, Any], str, str | None]:
    return (
        response.status_code,
        response.json(),
        response.headers["content-type"],
        response.headers.get("www-authenticate"),
    )


def _limited(app: Litestar, client_id: str) -> bool:
    return _runtime(app).failed_auth_limiter.retry_after([f"client:{client_id}"]) is not None


async def test_replay_to_another_process_is_refused_like_a_replay_to_the_same_one(
    tmp_path: Path, shared_settings: Settings, signer: _AssertionClient
) -> None:
    # One failure is enough to be limited: shows that each refusal counted.
    settings = make_settings(
        tmp_path, shared_settings.database_url, auth_failure_limit=1, auth_failure_window_seconds=600
    )
    events_one, events_two = LoggingAuthEventRecorder(), LoggingAuthEventRecorder()
    first = create_app(settings, auth_events=events_one)
    second = create_app(settings, auth_events=events_two)
    assertion = signer.assertion("used-once")
    async with (
        AsyncTestClient(app=first, base_url=ISSUER) as one,
        AsyncTestClient(app=second, base_url=ISSUER) as two,
    ):
        issued = await one.post("/oauth/token", data={**ASSERTION_FORM, "client_assertion": assertion})
        assert issued.status_code == 200, issued.text
        assert issued.json()["access_token"]

        same_process = await one.post("/oauth/token", data={**ASSERTION_FORM, "client_assertion": assertion})
        other_process = await two.post("/oauth/token", data={**ASSERTION_FORM, "client_assertion": assertion})

    assert _answer(other_process) == _answer(same_process)
    status, body, content_type, _ = _answer(other_process)
    assert status == 400
    assert content_type.startswith("application/problem+json")
    assert body["error"] == "invalid_client"
    assert body["error_description"] == "JWT ID is used before."
    assert "access_token" not in body
    assert other_process.headers["cache-control"] == "no-store"
    assert events_one.recorded == events_two.recorded == 1
    assert _limited(first, signer.client_id)
    assert _limited(second, signer.client_id)


async def test_an_assertion_used_to_revoke_is_refused_by_another_process(
    shared_settings: Settings, signer: _AssertionClient
) -> None:
    first, second = create_app(shared_settings), create_app(shared_settings)
    async with (
        AsyncTestClient(app=first, base_url=ISSUER) as one,
        AsyncTestClient(app=second, base_url=ISSUER) as two,
    ):
        issued = await one.post(
            "/oauth/token", data={**ASSERTION_FORM, "client_assertion": signer.assertion("for-the-token")}
        )
        token = issued.json()["access_token"]
        revoke_form = {
            "token": token,
            "client_assertion_type": ASSERTION_FORM["client_assertion_type"],
            "client_assertion": signer.assertion("for-the-revocation"),
        }
        revoked = await one.post("/oauth/revoke", data=revoke_form)
        assert revoked.status_code == 200, revoked.text
        replayed = await two.post("/oauth/revoke", data=revoke_form)
    assert replayed.status_code == 400
    assert replayed.json()["error"] == "invalid_client"
    assert replayed.json()["error_description"] == "JWT ID is used before."


async def test_unstorable_jti_and_exp_are_invalid_client_not_errors(
    shared_settings: Settings, signer: _AssertionClient
) -> None:
    async with AsyncTestClient(app=create_app(shared_settings), base_url=ISSUER) as http:
        long_jti = await http.post(
            "/oauth/token", data={**ASSERTION_FORM, "client_assertion": signer.assertion("j" * 256)}
        )
        far_exp = await http.post(
            "/oauth/token", data={**ASSERTION_FORM, "client_assertion": signer.assertion("far", exp=10**20)}
        )
    for refused in (long_jti, far_exp):
        assert refused.status_code == 400, refused.text
        assert refused.json()["error"] == "invalid_client"


async def test_first_use_is_atomic_and_expired_rows_are_purged_or_taken_over(migrated_url: str) -> None:
    engine = create_engine(migrated_url)
    sessions = session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    live = UsedAssertion("client-a", "live", now + dt.timedelta(seconds=60))
    expired = UsedAssertion("client-a", "expired", now - dt.timedelta(seconds=1))
    purged = UsedAssertion("client-b", "purged", now - dt.timedelta(seconds=1))
    try:
        racers = [sessions() for _ in range(4)]
        wins = await asyncio.gather(*(record_first_use(session, live, now) for session in racers))
        for session in racers:
            await session.close()
        assert sorted(wins) == [False, False, False, True]

        async with sessions() as session:
            assert await record_first_use(session, expired, now)
            assert await record_first_use(session, purged, now)
            # A new assertion reusing the jti of an expired one that was not purged yet.
            assert await record_first_use(session, UsedAssertion("client-a", "expired", live.expires_at), now)
            assert not await record_first_use(session, expired, now)

            assert await purge_expired_assertions(session, now) == 1
            rows = (await session.execute(select(UsedClientAssertionRecord.jti))).scalars().all()
        assert sorted(rows) == ["expired", "live"]
    finally:
        await engine.dispose()


async def test_the_gateway_purges_expired_assertions_when_it_syncs(shared_settings: Settings) -> None:
    engine = create_engine(shared_settings.database_url)
    sessions = session_factory(engine)
    now = dt.datetime.now(dt.UTC)
    stale = UsedAssertion("client-c", uuid.uuid4().hex, now - dt.timedelta(seconds=1))
    try:
        async with sessions() as session:
            assert await record_first_use(session, stale, now)
        # The app's start-up runs its first state sync.
        async with AsyncTestClient(app=create_app(shared_settings), base_url=ISSUER), sessions() as session:
            remaining = (await session.execute(select(UsedClientAssertionRecord))).scalars().all()
        assert remaining == []
    finally:
        await engine.dispose()
