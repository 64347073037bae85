"""The main flows once on SQLite and once on PostgreSQL: bootstrap a tenant and its client through
the admin API, use the client's token, see the change in the audit trail, keep license versions
immutable, verify the chain."""

from __future__ import annotations

import copy

from tests.gateway.api.conftest import FLUX2_DEV, SCHNELL, Api


async def test_bootstrap_a_tenant_and_use_it(any_db_api: Api) -> None:
    api = any_db_api
    admin = await api.admin()
    tenant = {
        "id": "initech",
        "name": "Initech",
        "profile": {"organisation_type": "company", "country": "US", "annual_revenue_usd": 50000},
    }
    assert (await api.http.post("/admin/tenants", headers=admin, json=tenant)).status_code == 201
    created = await api.http.post(
        "/admin/clients", headers=admin, json={"tenant_id": "initech", "scopes": "models:read audit:read"}
    )
    assert created.status_code == 201, created.text
    client_id, secret = created.json()["client"]["client_id"], created.json()["client_secret"]
    token = await api.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}

    models = {m["id"]: m for m in (await api.http.get("/v1/models", headers=headers)).json()["data"]}
    assert "commercial_product" in models[SCHNELL]["usable_for"]
    assert "commercial_product" not in models[FLUX2_DEV]["usable_for"]
    decision = await api.http.post(
        "/v1/policy/evaluate", headers=headers, json={"model_id": FLUX2_DEV, "purpose": "commercial_product"}
    )
    assert decision.json()["tenant_id"] == "initech"
    assert decision.json()["decision"]["decision"] == "deny"
    assert decision.json()["decision"]["alternatives"]

    agreement = {
        "id": "initech-flux",
        "holder": "initech",
        "licensor": "Black Forest Labs, Inc.",
        "covers": {"license_families": ["flux-dev-ncl"]},
        "purposes": ["commercial_product"],
        "valid_from": "2025-01-01",
    }
    assert (await api.http.post("/admin/agreements", headers=admin, json=agreement)).status_code == 201
    models = {m["id"]: m for m in (await api.http.get("/v1/models", headers=headers)).json()["data"]}
    assert "commercial_product" in models[FLUX2_DEV]["usable_for"]
    revoked = await api.http.delete(
        "/admin/agreements/initech-flux", headers=admin, params={"on": "2025-06-01"}
    )
    assert revoked.status_code == 200
    models = {m["id"]: m for m in (await api.http.get("/v1/models", headers=headers)).json()["data"]}
    assert "commercial_product" not in models[FLUX2_DEV]["usable_for"]

    trail = (await api.http.get("/v1/audit", headers=headers)).json()["events"]
    assert [e["payload"]["action"] for e in trail] == [
        "tenant.create",
        "client.create",
        "agreement.create",
        "agreement.revoke",
    ]
    assert trail[2]["payload"]["after"]["purposes"] == ["commercial_product"]

    document = (await api.http.get("/admin/licenses/flux-dev-ncl/2.0", headers=admin)).json()
    edited = copy.deepcopy(document)
    edited["terms"]["grants"] = edited["terms"]["grants"][1:]
    assert (
        await api.http.put("/admin/licenses/flux-dev-ncl/2.0", headers=admin, json=edited)
    ).status_code == 409
    assert (await api.http.get("/admin/audit/verify", headers=admin)).json()["ok"] is True
