"""A database that stops answering (PostgreSQL refusing connections) makes the API answer 503
problem details with `Retry-After`, never a 500; answers that need no database (the signing
keys) still come; once it is back, everything works again."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from gateway.app import SCHEMA_PATH
from gateway.settings import Settings
from registry.db.unreachable import database_unreachable
from tests.conftest import _admin
from tests.gateway.api.conftest import GLOBEX, open_api, seeded_database
from tests.gateway.auth.conftest import create_client, make_settings

TENANT_SCOPES = "models:read jobs:read jobs:write audit:read"
Seen = list[tuple[str, int, dict[str, str]]]
LOGGED: list[tuple[str, BaseException | None]] = []
"""The gateway's log records while the probes ran: message, exception with traceback."""


class _Recorder(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        LOGGED.append((record.getMessage(), record.exc_info[1] if record.exc_info else None))


@contextlib.asynccontextmanager
async def refusing_connections(database: str) -> AsyncIterator[None]:
    """The database refuses new connections and loses the ones it had, as in an outage."""
    await _admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
    await _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'")
    try:
        yield
    finally:
        await _admin(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')


async def _call_everything(settings: Settings, database: str | None) -> Seen:
    """The token endpoint, a job submission and every GET without a path parameter; during an
    outage when `database` is named."""
    async for api in open_api(settings):
        client = await create_client(settings, tenant=GLOBEX, scopes=TENANT_SCOPES)
        assert client.client_secret is not None
        tenant, admin = await api.headers(GLOBEX, TENANT_SCOPES), await api.admin()
        schema = (await api.http.get(f"{SCHEMA_PATH}/openapi.json")).json()
        paths = [p for p, ops in schema["paths"].items() if "get" in ops and "{" not in p]
        outage = refusing_connections(database) if database else contextlib.nullcontext()
        recorder = _Recorder()
        logging.getLogger("gateway").addHandler(recorder)  # Litestar's logging config replaced caplog's
        job = {"model": "x", "prompt": "p"}
        before = await api.http.post("/v1/jobs", json=job, headers=tenant)  # the job writer connects
        assert before.status_code == 422, before.text
        async with outage:
            if database:
                await asyncio.sleep(1.2)  # the background loops meet the outage (leases every 0.3 s)
            seen: Seen = []
            form = {"grant_type": "client_credentials"}
            answer = await api.http.post(
                "/oauth/token", data=form, auth=(client.client_id, client.client_secret)
            )
            seen.append(("POST /oauth/token", answer.status_code, dict(answer.headers)))
            answer = await api.http.post("/v1/jobs", json={"model": "x", "prompt": "p"}, headers=tenant)
            seen.append(("POST /v1/jobs", answer.status_code, dict(answer.headers)))
            for path in paths:
                answer = await api.http.get(path, headers=admin if path.startswith("/admin") else tenant)
                seen.append((f"GET {path}", answer.status_code, dict(answer.headers)))
        # The same process once the database is back: a request that meets a pooled connection
        # the outage closed answers 503 and has the pool replaced; the next ones get through.
        for attempt in range(5):
            answer = await api.http.post("/v1/jobs", json=job, headers=tenant)
            seen.append((f"POST /v1/jobs after {attempt}", answer.status_code, dict(answer.headers)))
            if answer.status_code != 503:
                break
        logging.getLogger("gateway").removeHandler(recorder)
        return seen
    raise AssertionError("the app did not start")


def test_a_database_outage_answers_503_and_the_api_recovers(tmp_path: Path, postgres_url: str) -> None:
    # A rate of 20 a minute leases each submission from the database (chunks of 1), through the
    # job writer: its connection, made before the outage, is one the outage closes.
    settings = make_settings(
        tmp_path, seeded_database(postgres_url), job_lease_seconds=0.9, job_rate_per_minute=20
    )
    outage = asyncio.run(_call_everything(settings, postgres_url.rsplit("/", 1)[1]))
    back = asyncio.run(_call_everything(settings, None))

    assert len(outage) > 10
    assert [what for what, status, _ in outage if status >= 500 and status != 503] == []
    refused = {what: headers for what, status, headers in outage if status == 503}
    assert {"POST /oauth/token", "GET /v1/jobs", "GET /v1/audit", "GET /admin/tenants"} <= refused.keys()
    for what, headers in refused.items():
        assert headers["content-type"].startswith("application/problem+json"), what
        assert headers["retry-after"] == "5", what
    statuses = {what: status for what, status, _ in outage}
    assert statuses["POST /v1/jobs"] == 503
    after = [status for what, status in statuses.items() if what.startswith("POST /v1/jobs after")]
    assert after[-1] == 422, after  # past the job writer, to the missing purpose
    assert len(after) <= 2, after  # at most one 503 after the outage
    assert statuses["GET /.well-known/jwks.json"] == 200
    assert (statuses["GET /health/live"], statuses["GET /health/ready"]) == (200, 503)  # out of the pool
    assert [what for what, status, _ in back if status >= 500] == []
    assert ("POST /oauth/token", 200) in [(what, status) for what, status, _ in back]
    # The loops that retry say so in a line each time, without a traceback.
    assert any("job lease maintenance failed: the database cannot be used now" in m for m, _ in LOGGED)
    assert [message for message, error in LOGGED if error is not None and database_unreachable(error)] == []


class _DriverError(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def _sqlite(message: str) -> sqlite3.OperationalError:
    return sqlite3.OperationalError(message)


def test_only_errors_that_say_the_database_cannot_be_used_now_count_as_an_outage() -> None:
    assert database_unreachable(DBAPIError("SELECT 1", {}, _DriverError("57P01")))  # admin shutdown
    assert database_unreachable(DBAPIError("SELECT 1", {}, _DriverError("40001")))  # serialization
    assert database_unreachable(OperationalError("SELECT 1", {}, _sqlite("database is locked")))
    assert not database_unreachable(OperationalError("SELECT 1", {}, _sqlite("no such table: x")))
    assert database_unreachable(ConnectionRefusedError())
    assert not database_unreachable(DBAPIError("SELECT 1", {}, _DriverError("42P01")))  # no such table
    assert not database_unreachable(IntegrityError("INSERT", {}, _DriverError("23505")))
    assert not database_unreachable(ValueError("not a database error"))
