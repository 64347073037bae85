"""Disabling a client through the admin API refuses the tokens it already holds: at once in the
process that disabled it, at the next state sync (CLEARANCE_STATE_SYNC_SECONDS) in the others;
and a retired tenant gets no new client."""

from __future__ import annotations

from gateway.runtime import GatewayRuntime
from tests.gateway.api.conftest import GLOBEX, Api, open_api
from tests.gateway.auth.conftest import create_client, fetch_token


async def test_a_disabled_clients_issued_tokens_are_refused_here_at_once_elsewhere_after_sync(
    api: Api,
) -> None:
    client = await create_client(api.settings, tenant=GLOBEX, scopes="models:read")
    bearer = {"Authorization": f"Bearer {await fetch_token(api.http, client)}"}
    async for other in open_api(api.settings):  # a second gateway process on the same database
        assert (await api.http.get("/v1/models", headers=bearer)).status_code == 200
        assert (await other.http.get("/v1/models", headers=bearer)).status_code == 200

        disabled = await api.http.delete(f"/admin/clients/{client.client_id}", headers=await api.admin())
        assert disabled.status_code == 200, disabled.text

        refused = await api.http.get("/v1/models", headers=bearer)
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        runtime: GatewayRuntime = other.app.state["runtime"]
        assert await runtime.sync_state()
        assert (await other.http.get("/v1/models", headers=bearer)).status_code == 401


async def test_no_client_is_registered_for_a_retired_tenant(api: Api) -> None:
    headers = await api.admin()
    assert (await api.http.delete(f"/admin/tenants/{GLOBEX}", headers=headers)).status_code == 200
    refused = await api.http.post(
        "/admin/clients", headers=headers, json={"tenant_id": GLOBEX, "scopes": "models:read"}
    )
    assert refused.status_code == 422, refused.text
    assert "retired" in refused.json()["detail"]
