"""The processes the benchmark serves, each under uvicorn `--factory` (or aiohttp for the
backend), configured from the environment set by `bench.e2e.site.bootstrap`."""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
from aiohttp import web
from litestar import Litestar, Request, Response, post

from gateway.app import create_app
from gateway.jobs.pool import RunnerPool
from gateway.jobs.runtime import runner_factory
from gateway.settings import Settings
from registry.catalog.entries import Runner as RunnerEntry
from runners.protocol import Runner
from runners.task import GenerationResult, GenerationTask


def constant_images_body() -> bytes:
    """About 1 KB of OpenAI Images JSON holding one small, valid PNG."""
    from PIL import Image

    image = Image.frombytes("RGB", (14, 14), bytes((i * 37) % 251 for i in range(14 * 14 * 3)))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    b64 = base64.b64encode(buffer.getvalue()).decode()
    return json.dumps({"created": 0, "data": [{"b64_json": b64}]}).encode()


def backend_main(port: int) -> None:
    """The fake OpenAI-Images provider: a constant body for every generation request."""
    body = constant_images_body()

    async def generate(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/images/generations", generate)
    web.run_app(app, host="127.0.0.1", port=port, access_log=None, print=None)


class TimedRunner:
    """Delegates to a real runner and appends how long each `submit` took to a JSONL file, so
    the benchmark can subtract the runner's own time from the job's wall time."""

    def __init__(self, runner: Runner, log_path: str) -> None:
        self._runner = runner
        self._log = open(log_path, "a", buffering=1)  # noqa: SIM115 - lives as long as the runner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._runner, name)

    async def submit(self, task: GenerationTask, progress: Any = None) -> GenerationResult:
        started = time.perf_counter()
        result = await self._runner.submit(task, progress)
        self._log.write(json.dumps({"task": task.task_id, "runner_s": time.perf_counter() - started}) + "\n")
        return result


def timed_gateway_app() -> Litestar:
    """The real gateway with every runner timed (`BENCH_RUNNER_LOG`)."""
    settings = Settings.from_env()
    build = runner_factory(settings)
    log_path = os.environ["BENCH_RUNNER_LOG"]

    def timed(entry: RunnerEntry) -> Runner | None:
        runner = build(entry)
        return TimedRunner(runner, log_path) if runner is not None else None

    return create_app(settings, runner_pool=RunnerPool(timed), freeze_startup_heap=True)


def gateway_app() -> Litestar:
    return create_app(Settings.from_env(), freeze_startup_heap=True)  # as `clearance serve` does


def forwarder_app() -> Litestar:
    """A bare Litestar app that forwards the body to the backend with aiohttp: the floor any
    gateway on this stack is compared with (no auth, no policy, no audit)."""
    target = os.environ["BENCH_BACKEND_URL"] + "/images/generations"
    sessions: list[aiohttp.ClientSession] = []

    @asynccontextmanager
    async def lifespan(_app: Litestar) -> AsyncIterator[None]:
        sessions.append(aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)))
        yield
        await sessions[0].close()

    @post("/v1/images/generations")
    async def forward(request: Request[Any, Any, Any]) -> Response[bytes]:
        async with sessions[0].post(
            target, data=await request.body(), headers={"Content-Type": "application/json"}
        ) as upstream:
            content = await upstream.read()
            return Response(content=content, status_code=upstream.status, media_type="application/json")

    return Litestar(route_handlers=[forward], lifespan=[lifespan])


if __name__ == "__main__":
    backend_main(int(sys.argv[1]))
