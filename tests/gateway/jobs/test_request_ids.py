"""Every answer carries an `X-Request-ID` (the client's when it is a sensible token, else one made
by the gateway), and the audit events a request causes record it, so the request can be found
in the audit log."""

from __future__ import annotations

import re
from typing import Any

from tests.gateway.jobs.conftest import HOBBY, STUDIO, TINY_FLUX2_TURBO, Gateway, flux2_job, sd_job

MADE = re.compile(r"[0-9a-f]{16}")


async def _audited(gateway: Gateway, request_id: str, tenant: str = STUDIO) -> list[dict[str, Any]]:
    headers = await gateway.headers(tenant, "audit:read")
    answer = await gateway.http.get("/v1/audit", params={"request_id": request_id}, headers=headers)
    assert answer.status_code == 200, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


async def test_the_client_request_id_is_echoed_and_recorded_on_the_decision(gateway: Gateway) -> None:
    answer = await gateway.submit(sd_job(steps=2), **{"X-Request-ID": "support-ticket-42"})
    assert answer.status_code == 202, answer.text
    assert answer.headers["x-request-id"] == "support-ticket-42"
    [event] = await _audited(gateway, "support-ticket-42")
    assert (event["kind"], event["job_id"]) == ("policy.decision", answer.json()["id"])


async def test_without_one_the_gateway_makes_one_and_records_it(gateway: Gateway) -> None:
    answer = await gateway.submit(sd_job(steps=2))
    made = answer.headers["x-request-id"]
    assert MADE.fullmatch(made)
    [event] = await _audited(gateway, made)
    assert event["job_id"] == answer.json()["id"]
    again = await gateway.submit(sd_job(steps=2))
    assert again.headers["x-request-id"] != made


async def test_a_denial_records_the_request_id_too(gateway: Gateway) -> None:
    body = flux2_job(adapters=[{"id": TINY_FLUX2_TURBO}])  # denied for the hobbyist
    answer = await gateway.submit(body, tenant=HOBBY, **{"X-Request-ID": "deny-1"})
    assert answer.status_code == 403
    assert answer.headers["x-request-id"] == "deny-1"
    [event] = await _audited(gateway, "deny-1", tenant=HOBBY)
    assert event["kind"] == "policy.decision"
    assert event["decision_id"] == answer.json()["decision_id"]


async def test_an_unusable_request_id_is_replaced_and_every_answer_has_one(gateway: Gateway) -> None:
    for unusable in ("has spaces", "x" * 129, "semi;colon"):
        answer = await gateway.submit(sd_job(steps=2), **{"X-Request-ID": unusable})
        assert MADE.fullmatch(answer.headers["x-request-id"]), unusable
    unauthenticated = await gateway.http.get("/v1/jobs", headers={"X-Request-ID": "no-token"})
    assert unauthenticated.status_code == 401
    assert unauthenticated.headers["x-request-id"] == "no-token"
    assert MADE.fullmatch((await gateway.http.get("/no/such/route")).headers["x-request-id"])


async def test_an_admin_change_records_the_request_id(gateway: Gateway) -> None:
    admin = {**await gateway.headers(scopes="admin"), "X-Request-ID": "change-7"}
    made = await gateway.http.post(
        "/admin/clients", json={"tenant_id": HOBBY, "scopes": "jobs:read"}, headers=admin
    )
    assert made.status_code == 201, made.text
    answer = await gateway.http.get("/admin/audit", params={"request_id": "change-7"}, headers=admin)
    [event] = answer.json()["events"]
    assert event["kind"] == "admin.change"
    assert event["request_id"] == "change-7"
