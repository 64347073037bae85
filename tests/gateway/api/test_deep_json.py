"""A JSON body nested deeper than the API accepts is a 400 naming the limit, never a 500: msgspec
runs out of recursion on one a thousand levels deep, which Litestar answered with a 500."""

from __future__ import annotations

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
