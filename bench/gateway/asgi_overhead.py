"""What token validation, the scope guard and the policy add to a request, measured in process:
each request is one direct ASGI call (no sockets, no load generator), timed one after another,
and compared with the same call to a bare Litestar app answering a constant. On a shared machine
this isolates the gateway's own CPU cost from the noise of HTTP load on loopback.

Target (issue 5): token validation plus policy add under 1 ms at the median.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from litestar import Litestar

from bench.gateway.apps import bare_app
from gateway.app import create_app
from gateway.settings import Settings

SAMPLES = 3000
WARM_UP = 300
FLUX_TURBO = (
    b'{"model_id": "black-forest-labs/FLUX.2-dev", "adapter_ids": ["fal/FLUX.2-dev-Turbo"],'
    b' "purpose": "commercial_product"'
)


@dataclass(frozen=True)
class Timing:
    name: str
    p50_us: float
    p99_us: float
    status: int


async def _call(
    app: Litestar, method: str, path: str, headers: Sequence[tuple[bytes, bytes]], body: bytes
) -> tuple[int, bytes]:
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"127.0.0.1"), (b"content-length", str(len(body)).encode()), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "state": {},
    }
    sent = False
    status = 0
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.sleep(3600)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)  # type: ignore[arg-type]
    return status, b"".join(chunks)


async def _time(
    app: Litestar,
    name: str,
    method: str,
    path: str,
    headers: Sequence[tuple[bytes, bytes]],
    body: Callable[[int], bytes],
) -> Timing:
    for i in range(WARM_UP):
        await _call(app, method, path, headers, body(i))
    samples = []
    status = 0
    for i in range(SAMPLES):
        payload = body(WARM_UP + i)
        started = time.perf_counter_ns()
        status, _ = await _call(app, method, path, headers, payload)
        samples.append((time.perf_counter_ns() - started) / 1000)
    samples.sort()
    return Timing(name, statistics.median(samples), samples[int(len(samples) * 0.99)], status)


async def _token(app: Litestar, client_id: str, secret: str) -> str:
    basic = base64.b64encode(f"{client_id}:{secret}".encode())
    status, body = await _call(
        app,
        "POST",
        "/oauth/token",
        [(b"authorization", b"Basic " + basic), (b"content-type", b"application/x-www-form-urlencoded")],
        b"grant_type=client_credentials",
    )
    assert status == 200, body
    token: str = json.loads(body)["access_token"]
    return token


async def measure(env: dict[str, str]) -> list[Timing]:
    """`env` from `bench.gateway.servers.bootstrap` (a database with the built-in catalog and the
    tenant `bench`); registers a client of its own."""
    from gateway.admin.actor import Actor
    from gateway.admin.clients import ClientAdmin
    from gateway.oauth.client_secrets import ClientSecretHasher
    from gateway.oauth.pepper import load_pepper
    from registry.db.engine import create_engine, session_factory

    settings = Settings.from_env(env)
    engine = create_engine(settings.database_url)
    async with session_factory(engine)() as session:
        created = await ClientAdmin(
            session, Actor(subject="bench"), ClientSecretHasher(load_pepper(settings))
        ).create(tenant_id="bench", scopes="models:read")
    await engine.dispose()
    assert created.client_secret is not None

    bare = bare_app()
    gateway = create_app(settings)
    timings = []
    async with bare.lifespan():
        timings.append(await _time(bare, "bare constant", "GET", "/constant", [], lambda i: b""))
    async with gateway.lifespan():
        token = await _token(gateway, created.client.client_id, created.client_secret)
        auth = [(b"authorization", f"Bearer {token}".encode())]
        json_auth = [*auth, (b"content-type", b"application/json")]
        start = dt.date(2026, 1, 1)
        timings += [
            await _time(gateway, "GET /v1/me (token + guard)", "GET", "/v1/me", auth, lambda i: b""),
            await _time(
                gateway, "GET /v1/models (token + cached views)", "GET", "/v1/models", auth, lambda i: b""
            ),
            await _time(
                gateway, "POST /v1/policy/evaluate (memo hit)", "POST", "/v1/policy/evaluate", json_auth,
                lambda i: FLUX_TURBO + b"}",
            ),
            await _time(
                gateway, "POST /v1/policy/evaluate (fresh decision)", "POST", "/v1/policy/evaluate",
                json_auth,
                lambda i: FLUX_TURBO + f', "date": "{start + dt.timedelta(days=i)}"}}'.encode(),
            ),
        ]  # fmt: skip
    return timings


def report(timings: list[Timing]) -> None:
    bare = timings[0]
    print(f"in-process ASGI calls, median and p99 of {SAMPLES} sequential requests each:")
    for timing in timings:
        added = "" if timing is bare else f"  added over bare: {(timing.p50_us - bare.p50_us) / 1000:.3f} ms"
        print(
            f"  {timing.name:45s} p50 {timing.p50_us:8.1f} us  p99 {timing.p99_us:8.1f} us  "
            f"[{timing.status}]{added}"
        )
    worst = max(t.p50_us for t in timings[1:]) - bare.p50_us
    verdict = "met" if worst < 1000 else "NOT met"
    print(
        f"  target: token validation + policy add < 1 ms at the median: {verdict} "
        f"(worst {worst / 1000:.3f} ms)"
    )


def main(env: dict[str, str] | None = None) -> None:
    if env is None:
        import tempfile

        from bench.gateway.servers import bootstrap

        with tempfile.TemporaryDirectory(prefix="clearance-bench-") as directory:
            report(asyncio.run(measure(bootstrap(Path(directory)))))
        return
    report(asyncio.run(measure(env)))


if __name__ == "__main__":
    main()
