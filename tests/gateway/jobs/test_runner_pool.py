"""The runner pool builds a backend for each enabled runner of the catalog that has one: the
built-in `bfl-api` runner, given a key and an endpoint, serves through BFL's protocol."""

from __future__ import annotations

import io
import json

import msgspec
from aiohttp import web
from PIL import Image

from gateway.jobs.pool import RunnerPool, default_factory
from registry.catalog.builtin import load_builtin_catalog
from registry.catalog.entries import Catalog
from registry.vocabulary import RunnerKind
from runners.remote.bfl_api import DELIVERY_HOSTS, BflApiRunner
from runners.task import GenerationTask, ModelFamily, PipelineSpec, ProviderModelSource
from tests.support_loopback import LoopbackServer


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 90, 200)).save(buffer, format="PNG")
    return buffer.getvalue()


def _bfl_catalog(endpoint: str, config: dict[str, str]) -> Catalog:
    builtin = load_builtin_catalog()
    [bfl] = [r for r in builtin.runners if r.kind is RunnerKind.BFL_API]
    enabled = msgspec.structs.replace(bfl, enabled=True, endpoint=endpoint, config=config)
    return msgspec.structs.replace(builtin, runners=(enabled,))


async def test_the_builtin_bfl_runner_serves_a_task_once_it_has_a_key_and_an_endpoint() -> None:
    async def bfl(request: web.Request, n: int) -> web.StreamResponse:
        base = f"http://127.0.0.1:{server.port}"
        if request.method == "POST" and request.path == "/v1/flux-2-pro":
            assert json.loads(await request.read())["output_format"] == "png"
            return web.json_response({"id": "gen-1", "polling_url": f"{base}/v1/get_result?id=gen-1"})
        if request.path == "/v1/get_result":
            sample = f"http://localhost:{server.port}/delivery/gen-1.png"
            return web.json_response({"status": "Ready", "result": {"sample": sample}})
        return web.Response(body=_png(), content_type="image/png")

    server = await LoopbackServer(respond=bfl).start()
    pool = RunnerPool(default_factory({"bfl": "bfl-key"}))  # keyed by provider name
    try:
        pool.sync(_bfl_catalog(f"http://127.0.0.1:{server.port}", {"download_hosts": "localhost"}))
        pooled = pool.get("bfl-api")
        assert pooled is not None
        task = GenerationTask(
            task_id="t1",
            pipeline=PipelineSpec(
                artifact_id="bfl/flux-2-pro",
                family=ModelFamily.PROVIDER,
                source=ProviderModelSource(model="flux-2-pro"),
            ),
            prompt="a lighthouse",
            width=1024,
            height=1024,
            steps=1,
            seed=9,
        )
        result = await pooled.runner.submit(task)
    finally:
        await pool.close()
        await server.stop()
    assert Image.open(io.BytesIO(result.images[0].png)).getpixel((0, 0)) == (0, 90, 200)
    assert [r.headers.get("x-key") for r in server.received] == ["bfl-key", "bfl-key", None]


def test_a_bfl_runner_without_configured_download_hosts_fetches_from_bfls_delivery_hosts() -> None:
    pool = RunnerPool(default_factory({"bfl-api": "bfl-key"}))  # keyed by runner id
    pool.sync(_bfl_catalog("https://api.bfl.ai", {}))
    pooled = pool.get("bfl-api")
    assert pooled is not None
    assert isinstance(pooled.runner, BflApiRunner)
    assert pooled.runner.settings.download_hosts == DELIVERY_HOSTS


def test_the_pool_never_follows_the_catalog_back_to_an_older_revision() -> None:
    builtin = load_builtin_catalog()
    runner = builtin.runners[0]
    paused = msgspec.structs.replace(builtin, runners=(msgspec.structs.replace(runner, paused=True),))
    running = msgspec.structs.replace(builtin, runners=(runner,))
    pool = RunnerPool(lambda entry: None)
    pool.register(runner, object())  # type: ignore[arg-type]
    pool.follow(running, 1)
    pool.follow(paused, 2)  # the maintenance saw the pause
    pool.follow(running, 1)  # a submission that read revision 1 before an await
    pooled = pool.get(runner.id)
    assert pooled is not None
    assert pooled.paused
    pool.follow(running, 3)  # resumed
    assert not pooled.paused
