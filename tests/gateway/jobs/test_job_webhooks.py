"""Signed webhooks for job events, received on loopback; webhook URLs that point inside the
network are refused at submission, and a canary server proves that nothing was sent there."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from registry.audit import EventKind, EventQuery, query_events
from registry.db.engine import create_engine, session_factory
from tests.gateway.jobs.conftest import HOBBY, STUDIO, Gateway, JobsWorld, open_gateway, sd_job
from tests.support_loopback import LoopbackServer


@pytest.fixture
async def receiver() -> AsyncIterator[LoopbackServer]:
    server = await LoopbackServer().start()
    yield server
    await server.stop()


@pytest.fixture
async def canary() -> AsyncIterator[LoopbackServer]:
    server = await LoopbackServer().start()
    yield server
    await server.stop()


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """Standard Webhooks, computed here independently of the gateway's signer."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    offered = [part.removeprefix("v1,") for part in headers["webhook-signature"].split()]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


async def received_types(server: LoopbackServer, count: int) -> list[str]:
    for _ in range(400):
        if len(server.received) >= count:
            break
        await asyncio.sleep(0.05)
    return [json.loads(r.body)["type"] for r in server.received]


async def test_job_events_arrive_signed_with_the_tenant_secret(
    jobs_world: JobsWorld, tmp_path: Path, receiver: LoopbackServer, canary: LoopbackServer
) -> None:
    allow = f"127.0.0.1:{receiver.port}"
    async with open_gateway(jobs_world, tmp_path, outbound_allowlist=allow) as gateway:
        hook = {"url": f"{receiver.base}/hooks/clearance", "events": ["job.*"]}
        job = (await gateway.submit(sd_job(webhook=hook), Prefer="wait=60")).json()
        assert job["status"] == "succeeded"
        types = await received_types(receiver, 3)
        assert sorted(types) == ["job.queued", "job.started", "job.succeeded"]
        secret = (await gateway.get("/v1/webhooks/secret")).json()["secret"]  # as the tenant reads it
        for delivery in receiver.received:
            headers = {k.lower(): v for k, v in delivery.headers.items()}
            assert verify_signature(secret, headers, delivery.body)
            assert not verify_signature(
                "whsec_" + base64.b64encode(b"x" * 32).decode(), headers, delivery.body
            )
            assert json.loads(delivery.body)["data"]["id"] == job["id"]
        final = next(json.loads(r.body) for r in receiver.received if b"job.succeeded" in r.body)
        assert final["data"]["images"] == job["images"]
        deliveries = (await gateway.get(f"/v1/jobs/{job['id']}/webhooks")).json()
        assert sorted(d["event_type"] for d in deliveries) == ["job.queued", "job.started", "job.succeeded"]
        assert all(d["delivered_at"] and d["log"][0]["status_code"] == 204 for d in deliveries)

        terminal_only = (
            await gateway.submit(sd_job(webhook={"url": f"{receiver.base}/t"}), Prefer="wait=60")
        ).json()
        await received_types(receiver, 4)
        assert [r.path for r in receiver.received if r.path == "/t"] == ["/t"]
        assert terminal_only["status"] == "succeeded"
        await ssrf_corpus_is_refused(gateway, canary)


def job_time(job: dict[str, object]) -> dt.datetime:
    return dt.datetime.fromisoformat(str(job["created_at"]))


async def ssrf_corpus_is_refused(gateway: Gateway, canary: LoopbackServer) -> None:
    port = canary.port
    corpus = [
        f"http://127.0.0.1:{port}/hook",
        f"http://localhost:{port}/hook",
        f"http://[::1]:{port}/hook",
        f"http://0.0.0.0:{port}/hook",
        f"http://2130706433:{port}/hook",
        f"http://0177.0.0.1:{port}/hook",
        f"http://127.1:{port}/hook",
        f"http://[::ffff:127.0.0.1]:{port}/hook",
        f"http://user:pw@127.0.0.1:{port}/hook",
        f"ftp://127.0.0.1:{port}/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/hook",
        "http://100.64.0.1/hook",
        "http://[fe80::1]/hook",
        "http://224.0.0.1/hook",
        f"http://127.0.0.1:{port}\\@example.com/hook",
    ]
    for url in corpus:
        response = await gateway.submit(sd_job(webhook={"url": url}))
        assert response.status_code == 422, url
        assert [e["field"] for e in response.json()["errors"]] == ["webhook.url"], url
    await asyncio.sleep(1.5)  # a dispatcher poll or two: still nothing may reach the canary
    assert canary.received == []
    assert len((await gateway.get("/v1/jobs")).json()["items"]) == 2


async def test_the_tenant_reads_and_rotates_its_secret_and_both_sign_during_the_grace(
    jobs_world: JobsWorld, tmp_path: Path, receiver: LoopbackServer
) -> None:
    allow = f"127.0.0.1:{receiver.port}"
    async with open_gateway(jobs_world, tmp_path, outbound_allowlist=allow) as gateway:
        first = (await gateway.get("/v1/webhooks/secret")).json()
        assert first["secret"].startswith("whsec_")
        assert first.get("previous_until") is None
        assert (await gateway.get("/v1/webhooks/secret")).json() == first  # kept, not made again
        other = (await gateway.get("/v1/webhooks/secret", tenant=HOBBY)).json()
        assert other["secret"] != first["secret"]  # one per tenant

        headers = await gateway.headers()
        rotated = await gateway.http.post("/v1/webhooks/secret/rotate", json={}, headers=headers)
        assert rotated.status_code == 200, rotated.text
        second = rotated.json()
        assert second["secret"] not in (first["secret"], other["secret"])
        until = dt.datetime.fromisoformat(second["previous_until"])
        assert dt.timedelta(hours=23) < until - dt.datetime.now(dt.UTC) <= dt.timedelta(hours=24)
        assert (await gateway.get("/v1/webhooks/secret")).json() == second

        job = (await gateway.submit(sd_job(webhook={"url": f"{receiver.base}/r"}), Prefer="wait=60")).json()
        [delivery] = [r for r in await _deliveries(receiver, 1) if r.path == "/r"]
        headers_in = {k.lower(): v for k, v in delivery.headers.items()}
        assert len(headers_in["webhook-signature"].split()) == 2
        for secret in (first["secret"], second["secret"]):  # the receiver may hold either
            assert Webhook(secret).verify(delivery.body, headers_in)["data"]["id"] == job["id"]

        now_only = await gateway.http.post(
            "/v1/webhooks/secret/rotate", json={"previous_valid_hours": 0}, headers=headers
        )
        assert now_only.json().get("previous_until") is None
        too_long = await gateway.http.post(
            "/v1/webhooks/secret/rotate", json={"previous_valid_hours": 169}, headers=headers
        )
        assert too_long.status_code in (400, 422)
        assert "previous_valid_hours" in too_long.text
        reader = await gateway.headers(scopes="jobs:read")
        assert (await gateway.http.get("/v1/webhooks/secret", headers=reader)).status_code == 403
        assert (await gateway.http.post("/v1/webhooks/secret/rotate", headers=reader)).status_code == 403

        engine = create_engine(gateway.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                changes = await query_events(session, EventQuery(kind=EventKind.ADMIN_CHANGE))
        finally:
            await engine.dispose()
    rotations = [e for e in changes.events if e.payload_value()["action"] == "webhook_secret.rotate"]
    assert [(e.tenant, e.payload_value()["target"]) for e in rotations] == [(STUDIO, STUDIO)] * 2
    assert all("whsec_" not in e.payload for e in rotations)  # never the secret


async def _deliveries(server: LoopbackServer, count: int) -> list[Any]:
    for _ in range(400):
        if len(server.received) >= count:
            break
        await asyncio.sleep(0.05)
    return list(server.received)
