"""A JSON body nested deeper than the API accepts is a 400 naming the limit, never a 500: msgspec
runs out of recursion on one a thousand levels deep, which Litestar answered with a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from gateway.nul_guard import MAX_JSON_DEPTH
from tests.gateway.api.conftest import Api

ROUTES = [
    ("/v1/jobs", "jobs:write"),
    ("/v1/policy/evaluate", "models:read"),
    ("/v1/images/generations", "jobs:write"),
    ("/admin/tenants", "admin"),
]


async def _post(api: Api, path: str, scope: str, body: bytes) -> Any:
    headers = {**await api.headers(scopes=scope), "Content-Type": "application/json"}
    return await api.http.post(path, content=body, headers=headers)


def _nested(depth: int, inner: str = "1") -> bytes:
    return ("[" * depth + inner + "]" * depth).encode()


@pytest.mark.parametrize(("path", "scope"), ROUTES)
@pytest.mark.parametrize(
    "body",
    [
        _nested(100_000),
        ('{"a":' * 50_000 + "1" + "}" * 50_000).encode(),
        _nested(MAX_JSON_DEPTH + 1),
        _nested(5_000, '"\\u0000"'),  # the NUL guard decodes a body that holds the escape
    ],
    ids=["arrays", "objects", "one-past-the-limit", "with-a-nul"],
)
async def test_too_deep_is_a_400(api: Api, path: str, scope: str, body: bytes) -> None:
    answer = await _post(api, path, scope, body)
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert f"deeper than {MAX_JSON_DEPTH} levels" in answer.json()["detail"]


async def test_bodies_within_the_limit_are_judged_as_before(api: Api) -> None:
    at_limit = await _post(api, "/v1/jobs", "jobs:write", _nested(MAX_JSON_DEPTH))
    assert at_limit.status_code == 422, at_limit.text  # an array, not a job: the usual answer
    brackets_in_text = (
        b'{"model": "tiny/sd-openrail", "prompt": "' + b"[{" * 5_000 + b'", "purpose": "personal"}'
    )
    judged = await _post(api, "/v1/jobs", "jobs:write", brackets_in_text)
    assert "levels" not in judged.text
    assert judged.status_code != 400, judged.text


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("deep", ["header", "payload"])
async def test_a_token_whose_json_nests_too_deeply_is_an_invalid_token(api: Api, deep: str) -> None:
    nested = _b64(b"[" * 1_400 + b"]" * 1_400)  # within the 4,096 bytes a token may have
    plain = _b64(b'{"alg": "EdDSA", "kid": "k"}')
    token = f"{nested}.{_b64(b'{}')}.{_b64(b's')}" if deep == "header" else f"{plain}.{nested}.{_b64(b's')}"
    answer = await api.http.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"] == "invalid_token"


@pytest.mark.parametrize("endpoint", ["/oauth/token", "/oauth/revoke"])  # the client-authenticated ones
async def test_a_client_assertion_whose_claims_nest_too_deeply_is_refused(api: Api, endpoint: str) -> None:
    claims = _b64(b'{"sub":' * 1_400 + b"1" + b"}" * 1_400)
    answer = await api.http.post(
        endpoint,
        data={
            "grant_type": "client_credentials",
            "token": "any",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": ".".join((_b64(b'{"alg": "EdDSA"}'), claims, _b64(b"s"))),
        },
    )
    assert answer.status_code in (400, 401), answer.text
    assert answer.json()["error"] == "invalid_client"
