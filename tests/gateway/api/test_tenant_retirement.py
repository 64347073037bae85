"""A retired tenant loses access: its clients get no token (401 `invalid_client`, audited as an
authentication failure) and the tokens they hold are refused (401 `invalid_token`) at once by the
server that retired it, within the state sync by the others (and after `clearance tenants retire`).
An admin may not retire its own client's tenant; the operator's id never changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
from click.testing import CliRunner
from sqlalchemy import text

from gateway.cli import main
from gateway.oauth.client_registry import RegisteredClient
from gateway.runtime import GatewayRuntime
from tests.gateway.api.conftest import ACME, GLOBEX, Api, open_api
from tests.gateway.auth.conftest import create_client, fetch_token

_GRANT = {"grant_type": "client_credentials"}
_RETIRE_GLOBEX = ("tenants", "retire", "--id", GLOBEX)


async def _token_answer(api: Api, client: RegisteredClient) -> Any:
    assert client.client_secret is not None
    return await api.http.post("/oauth/token", data=_GRANT, auth=(client.client_id, client.client_secret))


def _refused_token(response: Any) -> None:
    assert response.status_code == 401, response.text
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


async def _auth_failures(runtime: GatewayRuntime) -> list[tuple[str | None, dict[str, Any]]]:
    async with runtime.engine.connect() as connection:
        rows = (
            await connection.execute(
                text("SELECT client_id, payload FROM audit_events WHERE kind = 'auth.failure'")
            )
        ).all()
    return [(row.client_id, json.loads(row.payload)) for row in rows]


async def test_a_retired_tenant_loses_access_here_at_once_and_elsewhere_after_the_sync(api: Api) -> None:
    client = await create_client(api.settings, tenant=GLOBEX, scopes="models:read")
    bearer = {"Authorization": f"Bearer {await fetch_token(api.http, client)}"}
    async for other in open_api(api.settings):  # a second gateway process on the same database
        assert (await api.http.get("/v1/models", headers=bearer)).status_code == 200
        assert (await other.http.get("/v1/models", headers=bearer)).status_code == 200

        retired = await api.http.delete(f"/admin/tenants/{GLOBEX}", headers=await api.admin())
        assert retired.status_code == 200, retired.text

        _refused_token(await api.http.get("/v1/models", headers=bearer))
        refused = await _token_answer(api, client)
        assert refused.status_code == 401
        assert refused.json()["error"] == "invalid_client"
        runtime: GatewayRuntime = api.app.state["runtime"]
        failures = await _auth_failures(runtime)
        assert [(client_id, payload["reason"]) for client_id, payload in failures] == [
            (client.client_id, "the client's tenant is retired")
        ]

        other_runtime: GatewayRuntime = other.app.state["runtime"]
        assert await other_runtime.sync_state()
        _refused_token(await other.http.get("/v1/models", headers=bearer))
        assert (await _token_answer(other, client)).json()["error"] == "invalid_client"

        introspected = await api.http.post(
            "/oauth/introspect", headers=await api.admin(), data={"token": bearer["Authorization"][7:]}
        )
        assert introspected.status_code == 200
        assert introspected.json() == {"active": False}
        assert (await api.http.get("/v1/models", headers=await api.headers(ACME))).status_code == 200


async def test_a_tenant_retired_from_the_cli_loses_access_at_the_next_sync(api: Api, tmp_path: Path) -> None:
    client = await create_client(api.settings, tenant=GLOBEX, scopes="models:read")
    admin_client = await create_client(api.settings, tenant=GLOBEX, scopes="admin")
    bearer = {"Authorization": f"Bearer {await fetch_token(api.http, client)}"}
    assert (await api.http.get("/v1/models", headers=bearer)).status_code == 200

    def retire() -> Any:
        return CliRunner().invoke(
            main,
            ["--data-dir", str(tmp_path), "--database-url", api.settings.database_url, *_RETIRE_GLOBEX],
            catch_exceptions=False,
        )

    result = await anyio.to_thread.run_sync(retire)
    assert result.exit_code == 0, result.output
    assert f"tenant {GLOBEX} retired" in result.output
    assert f"admin clients of {GLOBEX} lose access too: {admin_client.client_id}" in result.output
    runtime: GatewayRuntime = api.app.state["runtime"]
    assert await runtime.sync_state()
    _refused_token(await api.http.get("/v1/models", headers=bearer))
    assert (await _token_answer(api, client)).json()["error"] == "invalid_client"
    tenant = await api.http.get(f"/admin/tenants/{GLOBEX}", headers=await api.admin())
    assert tenant.json()["retired"] is True


async def test_an_admin_cannot_retire_its_own_clients_tenant(api: Api) -> None:
    headers = await api.admin()  # an admin client of acme
    refused = await api.http.delete(f"/admin/tenants/{ACME}", headers=headers)
    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"] == "urn:clearance:problem:retiring-own-tenant"
    assert "your own client" in problem["detail"]
    current = (await api.http.get(f"/admin/tenants/{ACME}", headers=headers)).json()
    assert "retired" not in current  # defaults are left out: not retired
    by_update = await api.http.put(
        f"/admin/tenants/{ACME}", headers=headers, json={**current, "retired": True}
    )
    assert by_update.status_code == 409, by_update.text
    assert (await api.http.get(f"/admin/tenants/{ACME}", headers=headers)).json() == current
    assert (await api.http.get("/v1/models", headers=await api.headers(ACME))).status_code == 200


async def test_the_operators_id_never_changes(api: Api) -> None:
    headers = await api.admin()
    operator = (await api.http.get("/admin/operator", headers=headers)).json()
    changed = await api.http.put(
        "/admin/operator", headers=headers, json={**operator, "id": "ops", "name": "X"}
    )
    assert changed.status_code == 422, changed.text
    assert [error["field"] for error in changed.json()["errors"]] == ["id"]
    assert (await api.http.get("/admin/operator", headers=headers)).json() == operator
