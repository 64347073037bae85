"""POST /v1/policy/evaluate: the full decision for the caller's tenant, clauses and alternatives."""

from __future__ import annotations

import pytest

from tests.gateway.api.conftest import ACME, FLUX2_DEV, GLOBEX, Api


async def test_denied_flux2_dev_commercial_cites_clauses_and_offers_alternatives(api: Api) -> None:
    response = await api.call(
        "POST", "/v1/policy/evaluate", json={"model_id": FLUX2_DEV, "purpose": "commercial_product"}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["tenant_id"] == ACME
    decision = body["decision"]
    assert decision["decision"] == "deny"
    forbids = [r for r in decision["reasons"] if r["effect"] == "forbid"]
    assert any(r["license"] == "flux-dev-ncl@2.0" and r["clause"] for r in forbids), forbids
    assert body["deciding_clauses"]
    assert decision["alternatives"], decision
    assert all(a["model_id"] != FLUX2_DEV for a in decision["alternatives"])
    assert {a["decision"] for a in decision["alternatives"]} <= {"allow", "allow_with_obligations"}


async def test_the_same_request_is_allowed_for_the_tenant_holding_an_agreement(api: Api) -> None:
    response = await api.call(
        "POST",
        "/v1/policy/evaluate",
        tenant=GLOBEX,
        json={"model_id": FLUX2_DEV, "purpose": "commercial_product"},
    )
    body = response.json()
    assert body["tenant_id"] == GLOBEX
    assert body["decision"]["decision"] in ("allow", "allow_with_obligations"), __import__("json").dumps(body)
    assert "globex-flux-commercial" in body["decision"]["agreements_relied_on"]


async def test_only_admins_may_name_a_tenant(api: Api) -> None:
    request = {"model_id": FLUX2_DEV, "purpose": "commercial_product", "tenant_id": GLOBEX}
    refused = await api.call("POST", "/v1/policy/evaluate", json=request)
    assert refused.status_code == 403
    assert refused.json()["scope"] == "admin"
    own = await api.call("POST", "/v1/policy/evaluate", json={**request, "tenant_id": ACME})
    assert own.status_code == 200
    admin = await api.call("POST", "/v1/policy/evaluate", scopes="admin models:read", json=request)
    assert admin.status_code == 200
    assert admin.json()["tenant_id"] == GLOBEX
    assert admin.json()["decision"]["decision"] in ("allow", "allow_with_obligations")


async def test_unknown_fields_and_bad_values_name_the_field(api: Api) -> None:
    extra = await api.call(
        "POST", "/v1/policy/evaluate", json={"model_id": FLUX2_DEV, "purpose": "personal", "tenant": GLOBEX}
    )
    assert extra.status_code == 422
    assert extra.headers["content-type"].startswith("application/problem+json")
    assert extra.json()["errors"][0]["field"] == "tenant"
    bad = await api.call(
        "POST", "/v1/policy/evaluate", json={"model_id": FLUX2_DEV, "purpose": "world_domination"}
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "purpose"


async def test_jobs_write_alone_is_not_enough(api: Api) -> None:
    response = await api.call(
        "POST",
        "/v1/policy/evaluate",
        scopes="jobs:write",
        json={"model_id": FLUX2_DEV, "purpose": "personal"},
    )
    assert response.status_code == 403
    assert response.json()["scope"] == "models:read"


@pytest.mark.parametrize("named", ["nobody", "operator"])
async def test_an_admin_naming_a_tenant_that_does_not_exist_gets_404(api: Api, named: str) -> None:
    """It answered 200 with a decision for a tenant that is not in the catalog."""
    request = {"model_id": FLUX2_DEV, "purpose": "personal", "tenant_id": named}
    response = await api.call("POST", "/v1/policy/evaluate", scopes="admin models:read", json=request)
    assert response.status_code == 404, response.text
    assert response.json()["detail"] == f"no tenant {named!r}"
