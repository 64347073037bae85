"""The served OpenAPI document describes errors as the API sends them: problem details
(`application/problem+json`) under the status codes each operation answers, and says which
operations need no token. (`tests/gateway/test_schema_fuzz.py` checks every answer it provokes
against the documented statuses and media types.)"""

from __future__ import annotations

from typing import Any

from gateway.app import SCHEMA_PATH
from gateway.openapi_problems import PROBLEM_SCHEMA
from gateway.problems import PROBLEM_MEDIA_TYPE
from tests.gateway.api.conftest import Api

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


async def _document(api: Api) -> dict[str, Any]:
    response = await api.http.get(f"{SCHEMA_PATH}/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.json()
    return document


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in HTTP_METHODS
    }


async def test_every_error_answer_is_documented_as_problem_details(api: Api) -> None:
    document = await _document(api)
    assert document["components"]["schemas"][PROBLEM_SCHEMA]["properties"]["status"] == {
        "type": "integer",
        "description": "The HTTP status code.",
    }
    operations = _operations(document)
    assert len(operations) > 60
    for (method, path), operation in operations.items():
        errors = {code: r for code, r in operation["responses"].items() if int(code) >= 400}
        assert {"400", "503"} <= set(errors), (method, path)
        for code, response in errors.items():
            assert list(response["content"]) == [PROBLEM_MEDIA_TYPE], (method, path, code)
            # Litestar's own 400 body (`status_code`, `detail`, `extra`) is never sent: gone.
            assert "status_code" not in str(response), (method, path, code)


async def test_statuses_follow_what_each_route_can_answer(api: Api) -> None:
    operations = _operations(await _document(api))

    def statuses(method: str, path: str) -> set[str]:
        return {code for code in operations[(method, path)]["responses"] if int(code) >= 400}

    assert statuses("POST", "/v1/jobs") == {"400", "401", "403", "409", "413", "422", "429", "503"}
    assert statuses("GET", "/v1/jobs/{job_id}") >= {"401", "403", "404", "422"}
    assert statuses("GET", "/v1/me") == {"400", "401", "403", "503"}
    assert statuses("POST", "/v1/images/generations") >= {"422", "429", "502", "504"}
    assert "409" in statuses("POST", "/admin/tenants")
    assert "409" not in statuses("GET", "/admin/tenants")
    # The denial keeps its own schema (reasons and alternatives), now under the problem media type.
    denied = operations[("POST", "/v1/jobs")]["responses"]["403"]["content"][PROBLEM_MEDIA_TYPE]["schema"]
    assert denied != {"$ref": f"#/components/schemas/{PROBLEM_SCHEMA}"}


async def test_public_operations_need_no_token_and_others_do(api: Api) -> None:
    document = await _document(api)
    operations = _operations(document)
    assert document["security"] == [{"oauth2": []}]
    public = {key for key, operation in operations.items() if operation.get("security") == []}
    assert {("GET", "/health/live"), ("POST", "/oauth/token"), ("GET", "/.well-known/jwks.json")} <= public
    assert ("GET", "/v1/jobs") not in public
    for method, path in public:
        assert "403" not in operations[(method, path)]["responses"] or path.startswith("/v1/images/files/")
    # The document says the truth about the token: a public route answers without one, the others 401.
    assert (await api.http.get("/health/live")).status_code == 200
    for method, path in sorted(set(operations) - public):
        if "{" not in path and method == "GET":
            response = await api.http.get(path)
            assert response.status_code == 401, path
            assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_a_real_error_has_the_documented_shape(api: Api) -> None:
    schema = (await _document(api))["components"]["schemas"][PROBLEM_SCHEMA]
    response = await api.call("POST", "/v1/jobs", scopes="jobs:write", json={"model": 7})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["status"] == 422
    assert set(schema["required"]) <= set(body)
    assert body["errors"][0]["field"] == "model"


async def test_streamed_answers_are_documented_with_their_media_types(api: Api) -> None:
    operations = _operations(await _document(api))
    export = operations[("GET", "/admin/audit/export")]["responses"]["200"]["content"]
    assert set(export) == {"application/x-ndjson", "text/csv"}
    assert set(operations[("GET", "/v1/jobs/{job_id}/events")]["responses"]["200"]["content"]) == {
        "text/event-stream"
    }
    headers = await api.admin()
    for fmt in ("jsonl", "csv"):
        answer = await api.http.get("/admin/audit/export", headers=headers, params={"format": fmt})
        assert answer.status_code == 200
        assert answer.headers["content-type"].split(";")[0] in export


async def test_a_body_the_route_does_without_is_optional(api: Api) -> None:
    operations = _operations(await _document(api))
    assert operations[("POST", "/v1/webhooks/secret/rotate")]["requestBody"]["required"] is False
    assert operations[("POST", "/v1/jobs")]["requestBody"]["required"] is True
    rotated = await api.call("POST", "/v1/webhooks/secret/rotate", scopes="jobs:write")
    assert rotated.status_code == 200, rotated.text
