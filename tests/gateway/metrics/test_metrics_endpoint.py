"""`GET /metrics`: off without `CLEARANCE_METRICS_TOKEN`, refused without that exact token (like
the API's own bearer check), and the Prometheus text format with it."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.jobs.conftest import Gateway
from tests.gateway.metrics.conftest import METRICS_TOKEN


async def test_the_endpoint_is_off_without_a_token(gateway: Gateway) -> None:
    response = await gateway.http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_a_scrape_without_a_bearer_token_is_refused(metered: Gateway) -> None:
    for headers in ({}, {"Authorization": f"Basic {METRICS_TOKEN}"}, {"Authorization": "Bearer "}):
        response = await metered.http.get("/metrics", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert response.json()["type"] == "urn:clearance:problem:authentication-required"


async def test_a_scrape_with_another_token_is_refused(metered: Gateway) -> None:
    api_token = (await metered.headers())["Authorization"]  # a valid OAuth token is not the metrics token
    for authorization in (f"Bearer {METRICS_TOKEN}x", f"Bearer {METRICS_TOKEN[:-1]}", api_token):
        response = await metered.http.get("/metrics", headers={"Authorization": authorization})
        assert response.status_code == 401, authorization
        assert response.json()["type"] == "urn:clearance:problem:invalid-token"
        assert "metrics" not in response.text  # nothing exposed


async def test_a_scrape_answers_the_text_format_with_every_family(metered: Gateway) -> None:
    response = await metered.http.get("/metrics", headers={"authorization": f"bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {family.name: family for family in text_string_to_metric_families(response.text)}
    assert {
        "clearance_http_requests",
        "clearance_http_request_duration_seconds",
        "clearance_http_problems",
        "clearance_jobs_admitted",
        "clearance_jobs_ended",
        "clearance_job_run_seconds",
        "clearance_delivery_attempts",
        "clearance_runner_jobs_queued",
        "clearance_runner_jobs_running",
        "clearance_runner_healthy",
        "clearance_runner_paused",
        "clearance_runner_circuit_open",
    } <= set(families)
    assert families["clearance_http_requests"].type == "counter"
    assert families["clearance_runner_jobs_queued"].type == "gauge"


async def test_the_endpoint_is_not_in_the_api_schema(metered: Gateway) -> None:
    schema = (await metered.http.get("/schema/openapi.json")).json()
    assert "/metrics" not in schema["paths"]
