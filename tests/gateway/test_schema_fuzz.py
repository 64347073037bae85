"""A 500 is a bug: every operation of the OpenAPI schema, fuzzed by schemathesis with an admin
token and a plain tenant token, must never answer a server error.

The app runs on a migrated SQLite database holding the built-in catalog, two tenants, a runner
and agreements (the API fixtures' catalog). Examples are few and derandomized, so CI sees the
same requests on every run; admin examples run before tenant ones and may retire or change
catalog entries on the way, which is part of the point.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode
from schemathesis.generation.case import Case
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.app import SCHEMA_PATH, create_app
from tests.gateway.api.conftest import ACME, seeded_database
from tests.gateway.auth.conftest import ISSUER, create_client, make_settings

EXAMPLES = {GenerationMode.POSITIVE: 8, GenerationMode.NEGATIVE: 4}
"""Per operation, token and mode: some 60 operations x 2 tokens stay well under a minute."""

ADMIN_SCOPES = "admin models:read jobs:write jobs:read audit:read"
"""The operator's token also holds the tenant scopes, so /v1 routes see an admin caller too."""
TENANT_SCOPES = "models:read jobs:write jobs:read audit:read"

# Operations whose answers are not JSON described by the schema (a stream, a PNG, a CSV/JSONL
# export): their bodies are not checked against a schema, their statuses and media types are.
_NOT_SCHEMA_CHECKED = {
    ("GET", "/v1/jobs/{job_id}/events"),
    ("GET", "/v1/jobs/{job_id}/images/{index}"),
    ("GET", "/admin/audit/export"),
}


@pytest.fixture(scope="module")
def fuzzed_http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient[Litestar]]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    database_url = seeded_database(f"sqlite+aiosqlite:///{data_dir / 'fuzz.db'}")
    # Imports over HTTP name a loopback hub that the outbound guard refuses: nothing leaves.
    app = create_app(make_settings(data_dir, database_url, hf_endpoint="http://127.0.0.1:9"))
    with TestClient(app=app, base_url=ISSUER) as http:
        yield http


def _token(http: TestClient[Litestar], scopes: str) -> str:
    settings = http.app.state["runtime"].settings
    client = asyncio.run(create_client(settings, tenant=ACME, scopes=scopes))
    assert client.client_secret is not None
    response = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client.client_id, client.client_secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def _send(http: TestClient[Litestar], case: Case[Any], headers: dict[str, str]) -> httpx.Response:
    kwargs = case.as_transport_kwargs(base_url=ISSUER, headers=headers)
    request: dict[str, Any] = {
        "method": kwargs["method"],
        "url": kwargs["url"],
        "headers": kwargs.get("headers"),
        "params": kwargs.get("params"),
    }
    if "json" in kwargs:
        request["json"] = kwargs["json"]
    data = kwargs.get("data")
    if isinstance(data, bytes | str):
        request["content"] = data
    elif data is not None:
        request["data"] = data
    if kwargs.get("files"):
        request["files"] = kwargs["files"]
    return http.request(**request)


def _fuzz(
    http: TestClient[Litestar], operation: Any, mode: GenerationMode, auth: dict[str, str], checks: list[Any]
) -> None:
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def exercise(case: Case[Any]) -> None:
        response = _send(http, case, auth)
        case.validate_response(response, checks=checks)

    try:
        exercise()
    except Unsatisfiable:
        if mode is GenerationMode.POSITIVE:
            raise
        # Nothing in this operation can be made invalid (no parameters, no body).


def test_no_operation_answers_a_server_error(fuzzed_http: TestClient[Litestar]) -> None:
    http = fuzzed_http
    schema = schemathesis.openapi.from_dict(http.get(f"{SCHEMA_PATH}/openapi.json").json())
    tokens = {
        "admin": _token(http, ADMIN_SCOPES),
        "tenant": _token(http, TENANT_SCOPES),
    }
    failures: list[str] = []
    for role, token in tokens.items():
        auth = {"Authorization": f"Bearer {token}"}
        for result in schema.get_all_operations():
            if isinstance(result, Err):
                failures.append(f"[{role}] an operation schemathesis cannot read: {result.err()}")
                continue
            operation = result.ok()
            checks: list[Any] = [not_a_server_error, status_code_conformance, content_type_conformance]
            if (operation.method.upper(), operation.path) not in _NOT_SCHEMA_CHECKED:
                checks.append(response_schema_conformance)

            for mode in EXAMPLES:
                try:
                    _fuzz(http, operation, mode, auth, checks)
                except (Exception, FailureGroup) as exc:  # every operation's failures, reported together
                    failures.append(f"[{role}, {mode}] {operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
