"""Rotating a client's secret (`POST /admin/clients/{id}/secret`, `clearance clients
rotate-secret`): the new secret works at once, on every server; the old one is refused at once,
or accepted beside it for the hours asked; a client without a secret, or disabled, is 409; the
change is audited without the secret."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import httpx
from click.testing import CliRunner
from joserfc.jwk import ECKey
from sqlalchemy import select, update

from gateway.cli import main as cli
from gateway.oauth.client_registry import RegisteredClient
from gateway.settings import Settings
from registry.audit.tables import AuditEventRow
from registry.db.engine import create_engine, session_factory
from registry.identity.clients import OAuthClientRecord
from tests.gateway.api.conftest import GLOBEX, Api, open_api
from tests.gateway.auth.conftest import create_client


async def _token_status(api: Api, client_id: str, secret: str) -> int:
    form = {"grant_type": "client_credentials"}
    response: httpx.Response = await api.http.post("/oauth/token", data=form, auth=(client_id, secret))
    return response.status_code


async def _rotate(api: Api, client: RegisteredClient, body: dict[str, Any] | None = None) -> httpx.Response:
    path = f"/admin/clients/{client.client_id}/secret"
    response: httpx.Response = await api.http.post(path, json=body, headers=await api.admin())
    return response


async def test_the_new_secret_works_at_once_and_the_old_one_is_refused(any_db_api: Api) -> None:
    api = any_db_api
    client = await create_client(api.settings, tenant=GLOBEX, scopes="models:read")
    assert client.client_secret is not None
    async for other in open_api(api.settings):  # a second server on the same database
        rotated = await _rotate(api, client)
        assert rotated.status_code == 200, rotated.text
        answer = rotated.json()
        secret = answer["client_secret"]
        assert secret != client.client_secret
        assert answer["client"]["client_id"] == client.client_id
        assert answer["client"]["previous_secret_until"] is None
        for server in (api, other):
            assert await _token_status(server, client.client_id, secret) == 200
            assert await _token_status(server, client.client_id, client.client_secret) == 401

    listed = (await api.http.get(f"/admin/clients/{client.client_id}", headers=await api.admin())).json()
    assert secret not in json.dumps(listed)
    [event] = await _audited(api, client.client_id)
    assert secret not in event
    assert client.client_secret not in event


async def test_the_old_secret_is_accepted_for_the_hours_asked_and_not_after(api: Api) -> None:
    client = await create_client(api.settings, tenant=GLOBEX, scopes="models:read")
    assert client.client_secret is not None
    before = dt.datetime.now(dt.UTC)
    rotated = await _rotate(api, client, {"previous_valid_hours": 24})
    assert rotated.status_code == 200, rotated.text
    secret = rotated.json()["client_secret"]
    until = dt.datetime.fromisoformat(rotated.json()["client"]["previous_secret_until"])
    assert before + dt.timedelta(hours=24) <= until <= dt.datetime.now(dt.UTC) + dt.timedelta(hours=24)
    assert await _token_status(api, client.client_id, client.client_secret) == 200
    assert await _token_status(api, client.client_id, secret) == 200

    await _set_previous_until(api, client.client_id, dt.datetime.now(dt.UTC))  # the 24 hours passed
    assert await _token_status(api, client.client_id, client.client_secret) == 401
    assert await _token_status(api, client.client_id, secret) == 200

    again = await _rotate(api, client, {"previous_valid_hours": 1})  # one previous secret at a time
    newest = again.json()["client_secret"]
    assert await _token_status(api, client.client_id, secret) == 200
    assert await _token_status(api, client.client_id, client.client_secret) == 401
    assert await _token_status(api, client.client_id, newest) == 200


async def test_what_cannot_be_rotated_is_refused_and_changes_nothing(api: Api) -> None:
    keyless = await create_client(
        api.settings, tenant=GLOBEX, scopes="models:read", with_secret=False, public_jwk=_public_jwk()
    )
    refused = await _rotate(api, keyless)
    assert refused.status_code == 409, refused.text
    assert "private_key_jwt" in refused.json()["detail"]

    client = await create_client(api.settings, tenant=GLOBEX, scopes="models:read")
    assert client.client_secret is not None
    for body in ({"previous_valid_hours": -1}, {"previous_valid_hours": 169}, {"hours": 1}):
        bad = await _rotate(api, client, body)
        assert bad.status_code == 422, bad.text
    assert (
        await _rotate(api, RegisteredClient("cl_missing", GLOBEX, ("models:read",), None))
    ).status_code == 404
    disabled = await api.http.delete(f"/admin/clients/{client.client_id}", headers=await api.admin())
    assert disabled.status_code == 200
    assert (await _rotate(api, client)).status_code == 409
    assert await _audited(api, client.client_id, "client.rotate_secret") == []
    tenant_token = await api.headers(GLOBEX, "models:read jobs:write")
    forbidden = await api.http.post(f"/admin/clients/{client.client_id}/secret", headers=tenant_token)
    assert forbidden.status_code == 403


def test_the_cli_rotates_a_secret_and_names_what_it_cannot(api_settings: Settings) -> None:
    client = asyncio.run(create_client(api_settings, tenant=GLOBEX, scopes="models:read"))
    assert client.client_secret is not None
    base = ["--data-dir", str(api_settings.data_dir), "--database-url", api_settings.database_url]
    runner = CliRunner(env={"CLEARANCE_SECRET_PEPPER": api_settings.secret_pepper})
    rotate = [*base, "clients", "rotate-secret", client.client_id]
    result = runner.invoke(cli, [*rotate, "--previous-valid-hours", "2", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed["previous_secret_until"] is not None

    async def statuses() -> list[int]:
        async for api in open_api(api_settings):
            secrets = (printed["client_secret"], client.client_secret)
            return [await _token_status(api, client.client_id, secret) for secret in secrets]
        raise AssertionError("no app")

    assert asyncio.run(statuses()) == [200, 200]
    plain = runner.invoke(cli, rotate)
    assert plain.exit_code == 0, plain.output
    assert "old secret:    refused from now on" in plain.output

    missing = runner.invoke(cli, [*base, "clients", "rotate-secret", "cl_missing"])
    assert missing.exit_code == 2
    assert "no client 'cl_missing'" in missing.output
    assert runner.invoke(cli, [*rotate, "--previous-valid-hours", "200"]).exit_code == 2


async def _audited(api: Api, client_id: str, action: str = "client.rotate_secret") -> list[str]:
    engine = create_engine(api.settings.database_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.scalars(select(AuditEventRow).where(AuditEventRow.kind == "admin.change"))
            payloads = [json.loads(row.payload) for row in rows]
        return [json.dumps(p) for p in payloads if (p["target"], p["action"]) == (client_id, action)]
    finally:
        await engine.dispose()


async def _set_previous_until(api: Api, client_id: str, until: dt.datetime) -> None:
    engine = create_engine(api.settings.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            await session.execute(
                update(OAuthClientRecord)
                .where(OAuthClientRecord.client_id == client_id)
                .values(previous_secret_until=until)
            )
    finally:
        await engine.dispose()


def _public_jwk() -> dict[str, Any]:
    return ECKey.generate_key("P-256", auto_kid=True).as_dict(private=False)
