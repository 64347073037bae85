"""Provider runners behind an egress proxy: the configured one, or the environment's."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from runners.errors import ProviderError
from runners.remote.http import ProviderSettings
from runners.remote.openai_images import OpenAIImagesRunner
from tests.runners.test_runners_remote import FAST_RETRY, b64_answer, provider_task
from tests.support_loopback import LoopbackServer, forward_proxy


@pytest.fixture
async def provider() -> AsyncIterator[LoopbackServer]:
    async def answer(request: web.Request, _n: int) -> web.StreamResponse:
        return b64_answer(json.loads(await request.read())["n"])

    server = await LoopbackServer(respond=answer).start()
    yield server
    await server.stop()


@pytest.fixture
async def proxy() -> AsyncIterator[LoopbackServer]:
    server = await forward_proxy().start()
    yield server
    await server.stop()


def _runner(provider: LoopbackServer, proxy: str | None = None) -> OpenAIImagesRunner:
    return OpenAIImagesRunner(
        ProviderSettings(
            runner_id="behind-proxy",
            base_url=provider.base + "/v1",
            api_key="sk-test-secret",
            retry=FAST_RETRY,
            request_timeout_s=5.0,
            proxy=proxy,
        )
    )


def _netloc(server: LoopbackServer) -> str:
    return server.base.removeprefix("http://")


async def _generate(runner: OpenAIImagesRunner) -> int:
    try:
        return len((await runner.submit(provider_task(num_images=2))).images)
    finally:
        await runner.close()


async def test_calls_go_through_the_configured_proxy_with_its_credentials(
    provider: LoopbackServer, proxy: LoopbackServer
) -> None:
    runner = _runner(provider, proxy.base.replace("http://", "http://egress:pa55@"))
    assert "pa55" not in repr(runner.settings)
    assert await _generate(runner) == 2

    [through] = proxy.received
    assert (through.headers["Host"], through.path) == (_netloc(provider), "/v1/images/generations")
    assert through.headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"egress:pa55").decode()
    assert through.headers["Authorization"] == "Bearer sk-test-secret"
    [arrived] = provider.received
    assert json.loads(arrived.body)["n"] == 2


async def test_without_one_the_environment_proxy_is_used_unless_no_proxy_names_the_host(
    provider: LoopbackServer, proxy: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", proxy.base)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert await _generate(_runner(provider)) == 2
    assert [r.headers["Host"] for r in proxy.received] == [_netloc(provider)]

    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert await _generate(_runner(provider)) == 2
    assert len(proxy.received) == 1  # straight to the provider this time
    assert len(provider.received) == 2


async def test_a_proxy_that_does_not_answer_is_named_in_the_error(provider: LoopbackServer) -> None:
    down = await forward_proxy().start()
    await down.stop()  # its port is closed now
    runner = _runner(provider, down.base)
    with pytest.raises(ProviderError, match=f"cannot connect to its proxy 127.0.0.1:{down.port}"):
        await _generate(runner)
    assert provider.received == []
