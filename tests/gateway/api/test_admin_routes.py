"""The admin API: each entry type created, read, updated, listed and retired; every change in
the audit log with its actor and before/after values; license versions immutable once used;
bad bodies refused with the field named, and nothing written."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy import text

from registry.db.engine import create_engine
from tests.gateway.api.conftest import ACME, FLUX2_DEV, GLOBEX, SCHNELL, Api


async def _admin_events(api: Api, **filters: str) -> list[dict[str, Any]]:
    response = await api.call(
        "GET", "/admin/audit", scopes="admin", params={"kind": "admin.change", "limit": "1000", **filters}
    )
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


async def _license(api: Api, ref: str) -> dict[str, Any]:
    key, version = ref.split("@")
    response = await api.call("GET", f"/admin/licenses/{key}/{version}", scopes="admin")
    assert response.status_code == 200, response.text
    document: dict[str, Any] = response.json()
    return document


async def test_tenant_lifecycle_is_audited_with_actor_and_before_after(api: Api) -> None:
    admin_headers = await api.admin()
    created = await api.http.post(
        "/admin/tenants", headers=admin_headers, json={"id": "initech", "name": "Initech"}
    )
    assert created.status_code == 201, created.text
    profile = {"organisation_type": "company", "country": "DE", "annual_revenue_usd": 2_000_000}
    updated = await api.http.put("/admin/tenants/initech/profile", headers=admin_headers, json=profile)
    assert updated.status_code == 200, updated.text
    assert updated.json()["profile"]["country"] == "DE"
    renamed = await api.http.put(
        "/admin/tenants/initech", headers=admin_headers, json={**updated.json(), "name": "Initech GmbH"}
    )
    assert renamed.json()["name"] == "Initech GmbH"
    retired = await api.http.delete("/admin/tenants/initech", headers=admin_headers)
    assert retired.json()["retired"] is True
    assert (await api.http.get("/admin/tenants/initech", headers=admin_headers)).json()["retired"] is True
    listed = await api.http.get("/admin/tenants", headers=admin_headers)
    assert "initech" in {t["id"] for t in listed.json()}

    events = await _admin_events(api, tenant="initech")
    actions = [e["payload"]["action"] for e in events]
    assert actions == ["tenant.create", "tenant.profile.update", "tenant.update", "tenant.retire"]
    assert all(e["actor_subject"] == e["client_id"] and e["client_id"].startswith("cl_") for e in events)
    create, profile_update = events[0]["payload"], events[1]["payload"]
    assert create["before"] is None
    assert create["after"]["name"] == "Initech"
    assert profile_update["before"].get("profile") in (None, {})
    assert profile_update["after"]["profile"]["annual_revenue_usd"] == 2_000_000
    verify = await api.http.get("/admin/audit/verify", headers=admin_headers)
    assert verify.json()["ok"] is True


async def test_a_used_license_version_is_never_edited_in_place(api: Api) -> None:
    headers = await api.admin()
    document = await _license(api, "flux-dev-ncl@2.0")
    edited = copy.deepcopy(document)
    edited["terms"]["grants"] = [
        {**grant, "status": "allowed"} if grant["purpose"] == "commercial_product" else grant
        for grant in edited["terms"]["grants"]
    ]
    before = len(await _admin_events(api))
    refused = await api.http.put("/admin/licenses/flux-dev-ncl/2.0", headers=headers, json=edited)
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("license-version-in-use")
    assert "create a new version" in refused.json()["detail"]
    assert await _license(api, "flux-dev-ncl@2.0") == document
    assert len(await _admin_events(api)) == before

    # Metadata of a used version may change; terms go into a new version.
    note = await api.http.put(
        "/admin/licenses/flux-dev-ncl/2.0", headers=headers, json={**document, "verification_note": "checked"}
    )
    assert note.status_code == 200, note.text
    duplicate = await api.http.post("/admin/licenses", headers=headers, json=document)
    assert duplicate.status_code == 409
    new_version = await api.http.post(
        "/admin/licenses", headers=headers, json={**edited, "version": "2.1-test"}
    )
    assert new_version.status_code == 201, new_version.text
    # An unused version's terms may still be corrected.
    edited["terms"]["grants"] = document["terms"]["grants"]
    fixed = await api.http.put(
        "/admin/licenses/flux-dev-ncl/2.1-test", headers=headers, json={**edited, "version": "2.1-test"}
    )
    assert fixed.status_code == 200, fixed.text
    retired = await api.http.delete("/admin/licenses/flux-dev-ncl/2.1-test", headers=headers)
    assert retired.json()["retired"] is True
    actions = [e["payload"]["action"] for e in await _admin_events(api)][before:]
    assert actions == ["license.update", "license.create", "license.update", "license.retire"]


async def test_catalog_validation_names_the_field_and_writes_nothing(api: Api) -> None:
    headers = await api.admin()
    artifact = {
        "id": "acme/lora",
        "kind": "adapter",
        "name": "Acme LoRA",
        "license": "nope@1",
        "bases": [FLUX2_DEV],
    }
    bad = await api.http.post("/admin/artifacts", headers=headers, json=artifact)
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"] == [
        {"entry": "artifacts acme/lora", "field": "license", "message": "unknown license 'nope@1'"}
    ]
    no_holder = {
        "id": "ghost",
        "holder": "nobody",
        "licensor": "x",
        "covers": {"artifacts": [FLUX2_DEV]},
        "purposes": ["personal"],
        "valid_from": "2025-01-01",
    }
    refused = await api.http.post("/admin/agreements", headers=headers, json=no_holder)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "holder"
    wrong_type = await api.http.post(
        "/admin/runners",
        headers=headers,
        json={
            "id": "r",
            "kind": "local_diffusers",
            "host": "operator",
            "artifacts": [SCHNELL],
            "capacity": 0,
        },
    )
    assert wrong_type.status_code == 422
    assert wrong_type.json()["errors"][0]["field"] == "capacity"
    assert (await api.http.get("/admin/artifacts/acme/lora", headers=headers)).status_code == 404
    assert await _admin_events(api) == []


async def test_artifacts_agreements_runners_and_the_operator(api: Api) -> None:
    headers = await api.admin()
    lora = {
        "id": "acme/lora",
        "kind": "adapter",
        "name": "Acme LoRA",
        "license": "apache-2.0@2.0",
        "bases": [FLUX2_DEV],
    }
    license_refs = {
        d["key"] + "@" + d["version"] for d in (await api.http.get("/admin/licenses", headers=headers)).json()
    }
    lora["license"] = next(ref for ref in sorted(license_refs) if ref.startswith("apache"))
    assert (await api.http.post("/admin/artifacts", headers=headers, json=lora)).status_code == 201
    assert (await api.http.get("/admin/artifacts/acme/lora", headers=headers)).json()["name"] == "Acme LoRA"
    renamed = await api.http.put(
        "/admin/artifacts/acme/lora", headers=headers, json={**lora, "name": "Acme LoRA v2"}
    )
    assert renamed.json()["name"] == "Acme LoRA v2"
    moved = await api.http.put(
        "/admin/artifacts/acme/lora", headers=headers, json={**lora, "id": "acme/other"}
    )
    assert moved.status_code == 422
    assert moved.json()["errors"][0]["field"] == "id"
    # The tenant sees it, under its base's license.
    seen = await api.call("GET", "/v1/models/acme/lora")
    assert any(e["via"] == "base" for e in seen.json()["effective_licenses"])

    agreement = {
        "id": "acme-sdxl",
        "holder": ACME,
        "licensor": "Stability AI",
        "covers": {"artifacts": [SCHNELL]},
        "purposes": ["commercial_product"],
        "valid_from": "2025-01-01",
    }
    assert (await api.http.post("/admin/agreements", headers=headers, json=agreement)).status_code == 201
    listed = await api.http.get("/admin/agreements", headers=headers, params={"holder": ACME})
    assert {a["id"] for a in listed.json()} == {"acme-flux-eval", "acme-sdxl"}
    revoked = await api.http.delete(
        "/admin/agreements/acme-sdxl", headers=headers, params={"on": "2026-01-31"}
    )
    assert revoked.json()["revoked_at"] == "2026-01-31"

    runner = {"id": "op-cpu", "kind": "local_diffusers", "host": "operator", "artifacts": [SCHNELL]}
    assert (await api.http.post("/admin/runners", headers=headers, json=runner)).status_code == 201
    disabled = await api.http.delete("/admin/runners/op-cpu", headers=headers)
    assert disabled.json()["enabled"] is False

    operator = (await api.http.get("/admin/operator", headers=headers)).json()
    changed = await api.http.put(
        "/admin/operator", headers=headers, json={**operator, "charges_tenants": True}
    )
    assert changed.status_code == 200
    assert operator["charges_tenants"] is False
    assert "charges_tenants" not in changed.json()  # the default (true) is omitted

    actions = [e["payload"]["action"] for e in await _admin_events(api)]
    assert actions == [
        "artifact.create",
        "artifact.update",
        "agreement.create",
        "agreement.revoke",
        "runner.create",
        "runner.disable",
        "operator.update",
    ]
    revoke = (await _admin_events(api, tenant=ACME))[-1]["payload"]
    assert revoke["before"].get("revoked_at") is None
    assert revoke["after"]["revoked_at"] == "2026-01-31"


async def test_mass_assignment_is_refused(api: Api) -> None:
    headers = await api.admin()
    tenant = await api.http.post(
        "/admin/tenants", headers=headers, json={"id": "t2", "name": "T2", "tenant_id": GLOBEX}
    )
    assert tenant.status_code == 422
    assert tenant.json()["errors"][0]["field"] == "tenant_id"
    nested = await api.http.put(
        f"/admin/tenants/{ACME}/profile", headers=headers, json={"country": "US", "tenant_id": GLOBEX}
    )
    assert nested.status_code == 422
    assert nested.json()["errors"][0]["field"] == "tenant_id"
    client = await api.http.post(
        "/admin/clients",
        headers=headers,
        json={"tenant_id": ACME, "scopes": "models:read", "client_id": "mine", "secret_hash": "0" * 64},
    )
    assert client.status_code == 422
    assert {e["field"] for e in client.json()["errors"]} <= {"client_id", "secret_hash"}
    evaluate = await api.call(
        "POST", "/v1/policy/evaluate", json={"model_id": FLUX2_DEV, "purpose": "personal", "tenant": GLOBEX}
    )
    assert evaluate.status_code == 422
    assert await _admin_events(api) == []


async def test_clients_secret_shown_once_listing_never_shows_it_disable_stops_tokens(api: Api) -> None:
    headers = await api.admin()
    created = await api.http.post(
        "/admin/clients",
        headers=headers,
        json={"tenant_id": GLOBEX, "scopes": "models:read jobs:write", "name": "ci"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    secret, client_id = body["client_secret"], body["client"]["client_id"]
    assert secret
    assert body["client"]["tenant_id"] == GLOBEX
    listed = await api.http.get("/admin/clients", headers=headers, params={"tenant": GLOBEX})
    assert client_id in {c["client_id"] for c in listed.json()}
    assert secret not in listed.text
    assert "secret_hash" not in listed.text
    assert secret not in (await api.http.get(f"/admin/clients/{client_id}", headers=headers)).text
    token = await api.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert token.status_code == 200
    narrowed = await api.http.put(
        f"/admin/clients/{client_id}", headers=headers, json={"scopes": "models:read"}
    )
    assert narrowed.json()["scopes"] == ["models:read"]
    disabled = await api.http.delete(f"/admin/clients/{client_id}", headers=headers)
    assert disabled.json()["disabled"] is True
    refused = await api.http.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert refused.status_code in (400, 401)
    unknown_tenant = await api.http.post(
        "/admin/clients", headers=headers, json={"tenant_id": "nobody", "scopes": "models:read"}
    )
    assert unknown_tenant.status_code == 422
    events = await _admin_events(api, tenant=GLOBEX)
    assert [e["payload"]["action"] for e in events] == ["client.create", "client.update", "client.disable"]
    assert all(secret not in str(e) for e in events)
    assert events[1]["payload"]["before"]["scopes"] == ["models:read", "jobs:write"]


async def test_a_change_whose_audit_record_fails_is_not_made(api: Api) -> None:
    """The change and its audit event commit together: when the append fails, nothing changed."""
    engine = create_engine(api.settings.database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events "
                    "BEGIN SELECT RAISE(ABORT, 'audit log unavailable'); END"
                )
            )
    finally:
        await engine.dispose()
    headers = await api.admin()
    failed = await api.http.post("/admin/tenants", headers=headers, json={"id": "initech", "name": "Initech"})
    assert failed.status_code == 500
    assert (await api.http.get("/admin/tenants/initech", headers=headers)).status_code == 404
