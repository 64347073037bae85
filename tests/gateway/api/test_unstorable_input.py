"""Input a database cannot store is refused with a clear error on SQLite and PostgreSQL alike,
never a 500: NUL characters (U+0000) anywhere in the query, the path or a JSON or form body, and
texts longer than their columns."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.gateway.api.conftest import GLOBEX, Api, open_api, seeded_database
from tests.gateway.auth.conftest import make_settings

TENANT_SCOPES = "models:read jobs:read jobs:write audit:read"

NUL_IN_QUERY_OR_PATH = [
    ("GET", "/v1/audit?kind=a%00b", "kind"),
    ("GET", "/v1/audit?request_id=a%00b", "request_id"),
    ("GET", "/v1/jobs?status=queued&cursor=%00", "cursor"),
    ("GET", "/v1/models/a%00b", None),
    ("GET", "/v1/jobs/job_%00", None),
    ("GET", "/admin/clients?tenant=a%00b", "tenant"),
    ("GET", "/admin/audit?tenant=a%00b", "tenant"),
]
NUL_IN_BODY = [
    ("/admin/clients", {"tenant_id": GLOBEX, "scopes": "models:read", "name": "a\u0000b"}, "name"),
    (
        "/admin/tenants",
        {"id": "nul", "name": "n", "profile": {"registrations": ["x\u0000"]}},
        "profile.registrations[0]",
    ),
    (
        "/v1/jobs",
        {"model": "tiny/sd-openrail", "prompt": "a lighthouse\u0000", "purpose": "personal"},
        "prompt",
    ),
    ("/v1/images/generations", {"model": "tiny/sd-openrail", "prompt": "\u0000"}, "prompt"),
]
TOO_LONG = [
    ("/admin/clients", {"tenant_id": GLOBEX, "scopes": "models:read", "name": "n" * 201}, "name"),
    ("/admin/tenants", {"id": "long", "name": "n" * 301}, "name"),
    (
        "/admin/tenants",
        {"id": "busy", "name": "n", "profile": {"monthly_active_users": 2**31}},
        "monthly_active_users",
    ),
]


def _run(database_url: str, tmp_path: Path, probe: Any) -> Any:
    settings = make_settings(tmp_path, seeded_database(database_url))

    async def main() -> Any:
        async for api in open_api(settings):
            return await probe(api)
        raise AssertionError("the app did not start")

    return asyncio.run(main())


async def _headers(api: Api, path: str) -> dict[str, str]:
    return await api.admin() if path.startswith("/admin") else await api.headers(GLOBEX, TENANT_SCOPES)


def test_nul_characters_are_refused_naming_where(database_url: str, tmp_path: Path) -> None:
    async def probe(api: Api) -> list[tuple[str, int, dict[str, Any]]]:
        answers = []
        for method, path, _ in NUL_IN_QUERY_OR_PATH:
            answer = await api.http.request(method, path, headers=await _headers(api, path))
            answers.append((path, answer.status_code, answer.json()))
        for path, body, _ in NUL_IN_BODY:
            answer = await api.http.post(path, json=body, headers=await _headers(api, path))
            answers.append((path, answer.status_code, answer.json()))
        form = {"grant_type": "client_credentials", "client_id": "cl_\u0000", "client_secret": "s"}
        answer = await api.http.post("/oauth/token", data=form)
        answers.append(("/oauth/token", answer.status_code, answer.json()))
        return answers

    answers = _run(database_url, tmp_path, probe)
    expected = [(400, "query" if f else "path", f) for _, _, f in NUL_IN_QUERY_OR_PATH]
    expected += [(422, "body", f) for _, _, f in NUL_IN_BODY] + [(422, "body", "client_id")]
    for (path, status, problem), (want_status, source, field) in zip(answers, expected, strict=True):
        assert status == want_status, (path, problem)
        assert "NUL characters (U+0000) are not accepted" in problem["detail"], path
        assert problem["errors"] == [{"field": field, "message": "holds a NUL character", "source": source}]


def test_a_backslash_u0000_written_out_is_text_not_a_nul(database_url: str, tmp_path: Path) -> None:
    async def probe(api: Api) -> int:
        body = {"tenant_id": GLOBEX, "scopes": "models:read", "name": "escape \\u0000 in a name"}
        answer = await api.http.post("/admin/clients", json=body, headers=await api.admin())
        assert answer.status_code == 201, answer.text
        return len(answer.json()["client"]["name"])

    assert _run(database_url, tmp_path, probe) == len("escape \\u0000 in a name")


@pytest.mark.parametrize(("path", "body", "field"), TOO_LONG)
def test_texts_longer_than_their_columns_are_refused_naming_the_field(
    database_url: str, tmp_path: Path, path: str, body: dict[str, Any], field: str
) -> None:
    async def probe(api: Api) -> tuple[int, dict[str, Any]]:
        answer = await api.http.post(path, json=body, headers=await api.admin())
        return answer.status_code, answer.json()

    status, problem = _run(database_url, tmp_path, probe)
    assert status in (400, 422), problem
    assert field in problem["detail"], problem
