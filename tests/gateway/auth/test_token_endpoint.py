"""POST /oauth/token through Litestar's test client: the three client authentication methods,
scopes, RFC 9068 claims, error shapes."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey

from tests.gateway.auth.conftest import ISSUER, TENANT, RegisterClient, fetch_token


def _claims(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    decode = lambda part: json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))  # noqa: E731
    return decode(header), decode(payload)


async def test_client_secret_basic_issues_an_rfc9068_token(http: Any, register: RegisterClient) -> None:
    client = await register(scopes="models:read jobs:write")
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.client_secret),
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "models:read jobs:write"
    assert "refresh_token" not in body
    header, claims = _claims(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"]
    assert claims["iss"] == ISSUER
    assert claims["aud"] == "clearance"
    assert claims["sub"] == claims["client_id"] == client.client_id
    assert claims["tenant_id"] == TENANT
    assert claims["exp"] - claims["iat"] == body["expires_in"]
    assert claims["jti"]
    me = await http.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200
    assert me.json()["tenant_id"] == TENANT


async def test_client_secret_post_and_narrower_scope(http: Any, register: RegisterClient) -> None:
    client = await register(scopes="models:read jobs:write")
    response = await http.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client.client_id,
            "client_secret": client.client_secret,
            "scope": "jobs:write",
        },
    )
    assert response.status_code == 200
    assert response.json()["scope"] == "jobs:write"


async def test_scope_beyond_registration_is_invalid_scope(http: Any, register: RegisterClient) -> None:
    client = await register(scopes="models:read")
    response = await http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "admin"},
        auth=(client.client_id, client.client_secret),
    )
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["error"] == "invalid_scope"


async def test_private_key_jwt(http: Any, register: RegisterClient) -> None:
    client_key = ECKey.generate_key("P-256", auto_kid=True)
    client = await register(
        scopes="jobs:read", public_jwk=client_key.as_dict(private=False), with_secret=False
    )
    assert client.client_secret is None

    def assertion(jti: str, audience: str = f"{ISSUER}/oauth/token") -> str:
        now = int(time.time())
        claims = {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": audience,
            "iat": now,
            "exp": now + 60,
            "jti": jti,
        }
        return jwt.encode({"alg": "ES256"}, claims, client_key, algorithms=["ES256"])

    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
    }
    ok = await http.post("/oauth/token", data={**form, "client_assertion": assertion("one")})
    assert ok.status_code == 200, ok.text
    assert _claims(ok.json()["access_token"])[1]["client_id"] == client.client_id

    replay = await http.post("/oauth/token", data={**form, "client_assertion": assertion("one")})
    assert replay.status_code in (400, 401)
    assert replay.json()["error"] == "invalid_client"

    wrong_audience = await http.post(
        "/oauth/token", data={**form, "client_assertion": assertion("two", "https://elsewhere")}
    )
    assert wrong_audience.json()["error"] == "invalid_client"

    foreign_key = ECKey.generate_key("P-256")
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "ES256"},
        {
            "iss": client.client_id,
            "sub": client.client_id,
            "aud": f"{ISSUER}/oauth/token",
            "iat": now,
            "exp": now + 60,
            "jti": "three",
        },
        foreign_key,
        algorithms=["ES256"],
    )
    rejected = await http.post("/oauth/token", data={**form, "client_assertion": forged})
    assert rejected.json()["error"] == "invalid_client"


async def test_wrong_secret_and_unknown_client_are_invalid_client(
    http: Any, register: RegisterClient
) -> None:
    client = await register()
    wrong = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client.client_id, "not-the-secret")
    )
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    body = wrong.json()
    assert body["error"] == "invalid_client"
    assert body["status"] == 401
    unknown = await http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("cl_nobody", "x")
    )
    assert unknown.status_code == 401


async def test_unsupported_grant_and_repeated_parameters(http: Any, register: RegisterClient) -> None:
    client = await register()
    auth = (client.client_id, client.client_secret)
    password = await http.post("/oauth/token", data={"grant_type": "password"}, auth=auth)
    assert password.json()["error"] == "unsupported_grant_type"
    repeated = await http.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&grant_type=client_credentials",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=auth,
    )
    assert repeated.status_code == 400
    assert repeated.json()["error"] == "invalid_request"
    as_json = await http.post("/oauth/token", json={"grant_type": "client_credentials"}, auth=auth)
    assert as_json.json()["error"] == "invalid_request"


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/revoke"])
async def test_a_form_of_many_parameters_is_refused_at_once(
    http: Any, register: RegisterClient, endpoint: str
) -> None:
    # 60,000 distinct names (about 530 KB, under the body limit): a count per name held the
    # event loop for minutes before this was answered.
    client = await register()
    body = "grant_type=client_credentials&token=t&" + "&".join(f"p{i}=v" for i in range(60_000))
    refused = await http.post(
        endpoint,
        content=body.encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(client.client_id, client.client_secret),
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    assert "More than 32 parameters" in refused.json()["detail"]


async def test_token_helper(http: Any, register: RegisterClient) -> None:
    client = await register(scopes="models:read admin")
    token = await fetch_token(http, client, scope="admin")
    assert _claims(token)[1]["scope"] == "admin"
