"""Forged and damaged bearer tokens: every one gets the same generic 401 `invalid_token`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from litestar import Litestar

from gateway.runtime import GatewayRuntime
from tests.gateway.auth.conftest import ISSUER, TENANT, RegisterClient, fetch_token


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _segments(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(payload), signature


def _compact(header: dict[str, Any], payload: dict[str, Any], signature: str) -> str:
    return f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}.{signature}"


def _runtime(app: Litestar) -> GatewayRuntime:
    runtime = app.state["runtime"]
    assert isinstance(runtime, GatewayRuntime)
    return runtime


async def _assert_rejected(http: Any, token: str) -> None:
    response = await http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401, token
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.headers["www-authenticate"] == 'Bearer realm="clearance", error="invalid_token"'
    body = response.json()
    assert body["error"] == "invalid_token"
    assert body["type"] == "urn:clearance:problem:invalid-token"
    assert set(body) == {"status", "type", "title", "detail", "error"}


@pytest.fixture
async def genuine(http: Any, register: RegisterClient) -> str:
    client = await register(scopes="models:read")
    return await fetch_token(http, client)


def _claims_now(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": "clearance",
        "sub": "cl_x",
        "client_id": "cl_x",
        "tenant_id": TENANT,
        "scope": "admin",
        "iat": now,
        "exp": now + 300,
        "jti": f"j{time.monotonic_ns()}",
    }
    claims.update(overrides)
    return {key: value for key, value in claims.items() if value is not None}


def _sign_with_server_key(app: Litestar, claims: dict[str, Any], **header: Any) -> str:
    key = _runtime(app).keyring.active()
    full_header = {"alg": "ES256", "typ": "at+jwt", "kid": key.kid, **header}
    full_header = {name: value for name, value in full_header.items() if value is not None}
    return jwt.encode(full_header, claims, key.private_key, algorithms=["ES256"])


async def test_genuine_token_is_accepted(http: Any, genuine: str) -> None:
    response = await http.get("/v1/me", headers={"Authorization": f"Bearer {genuine}"})
    assert response.status_code == 200


async def test_alg_none(http: Any, genuine: str) -> None:
    header, payload, _ = _segments(genuine)
    await _assert_rejected(http, _compact({**header, "alg": "none"}, payload, ""))
    await _assert_rejected(http, _compact({**header, "alg": "none"}, payload, "AA"))
    await _assert_rejected(http, _compact({**header, "alg": "None"}, payload, "AA"))


async def test_alg_confusion_hs256_with_the_public_key(http: Any, app: Litestar, genuine: str) -> None:
    header, payload, _ = _segments(genuine)
    public = _runtime(app).keyring.active().public_jwk
    for secret in (json.dumps(public).encode(), public["x"].encode()):
        forged_header = {**header, "alg": "HS256"}
        forged_payload = {**payload, "scope": "admin"}
        encoded = [_b64(json.dumps(part).encode()) for part in (forged_header, forged_payload)]
        signing_input = ".".join(encoded)
        signature = _b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
        await _assert_rejected(http, f"{signing_input}.{signature}")


async def test_wrong_or_missing_typ(http: Any, app: Litestar) -> None:
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(), typ="JWT"))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(), typ=None))


async def test_wrong_issuer_audience_and_missing_claims(http: Any, app: Litestar) -> None:
    assert (
        await http.get(
            "/v1/me", headers={"Authorization": f"Bearer {_sign_with_server_key(app, _claims_now())}"}
        )
    ).status_code == 200
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(iss="http://localhost:8000/")))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(iss="https://evil.example")))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(aud="someone-else")))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(aud=None)))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(exp=None)))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(jti=None)))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(tenant_id=None)))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(exp=True)))


async def test_expired_exactly_at_exp(http: Any, app: Litestar, genuine: str) -> None:
    _, payload, _ = _segments(genuine)
    validator = _runtime(app).validator
    validator.clock = lambda: payload["exp"] - 0.001
    assert (await http.get("/v1/me", headers={"Authorization": f"Bearer {genuine}"})).status_code == 200
    validator.clock = lambda: float(payload["exp"])
    await _assert_rejected(http, genuine)


async def test_not_yet_valid_beyond_leeway(http: Any, app: Litestar) -> None:
    now = int(time.time())
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(nbf=now + 120)))
    await _assert_rejected(http, _sign_with_server_key(app, _claims_now(iat=now + 120)))
    within_leeway = _sign_with_server_key(app, _claims_now(nbf=now + 5, iat=now + 5))
    assert (await http.get("/v1/me", headers={"Authorization": f"Bearer {within_leeway}"})).status_code == 200


async def test_tampered_claims(http: Any, genuine: str) -> None:
    header, payload, signature = _segments(genuine)
    await _assert_rejected(http, _compact(header, {**payload, "scope": "admin"}, signature))
    await _assert_rejected(http, _compact(header, {**payload, "tenant_id": "globex"}, signature))
    await _assert_rejected(http, _compact(header, {**payload, "exp": payload["exp"] + 3600}, signature))


async def test_foreign_key_with_our_kid(http: Any, app: Litestar) -> None:
    kid = _runtime(app).keyring.active().kid
    foreign = ECKey.generate_key("P-256")
    token = jwt.encode(
        {"alg": "ES256", "typ": "at+jwt", "kid": kid}, _claims_now(), foreign, algorithms=["ES256"]
    )
    await _assert_rejected(http, token)
    rsa = RSAKey.generate_key(2048)
    token = jwt.encode(
        {"alg": "RS256", "typ": "at+jwt", "kid": kid}, _claims_now(), rsa, algorithms=["RS256"]
    )
    await _assert_rejected(http, token)


async def test_embedded_jwk_and_key_urls_are_never_trusted(http: Any) -> None:
    attacker = ECKey.generate_key("P-256", auto_kid=True)
    public = attacker.as_dict(private=False)
    for extra in (
        {"jwk": public},
        {"jku": "http://127.0.0.1:1/jwks.json"},
        {"x5u": "http://127.0.0.1:1/cert"},
        {"x5c": ["MIIB"]},
    ):
        header = {"alg": "ES256", "typ": "at+jwt", "kid": attacker.kid, **extra}
        await _assert_rejected(http, jwt.encode(header, _claims_now(), attacker, algorithms=["ES256"]))


async def test_unknown_kid_flood(http: Any) -> None:
    attacker = ECKey.generate_key("P-256")
    for index in range(50):
        header = {"alg": "ES256", "typ": "at+jwt", "kid": f"made-up-{index}"}
        await _assert_rejected(http, jwt.encode(header, _claims_now(), attacker, algorithms=["ES256"]))


async def test_oversized_and_garbage_tokens(http: Any, genuine: str) -> None:
    await _assert_rejected(http, genuine + "A" * 5000)
    await _assert_rejected(http, "x" * 100_000)
    await _assert_rejected(http, "not-a-jwt")
    await _assert_rejected(http, "a.b.c")
    await _assert_rejected(http, f"{_b64(b'[1]')}.{_b64(b'{}')}.AA")


async def test_missing_token_is_401_without_error_code(http: Any) -> None:
    response = await http.get("/v1/me")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Bearer realm="clearance"'
    basic = await http.get("/v1/me", headers={"Authorization": "Basic Zm9vOmJhcg=="})
    assert basic.status_code == 401
