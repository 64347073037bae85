"""Provider runners against real provider servers on loopback: slow, failing, rate-limited,
oversized, redirecting, wrong content type, not an image."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from PIL import Image

from runners.errors import (
    CircuitOpenError,
    ProviderError,
    ProviderRejectedError,
    ProviderTimeoutError,
    TaskCanceledError,
    TaskValidationError,
)
from runners.protocol import Runner
from runners.provenance import read_provenance
from runners.remote.fal_queue import FalQueueRunner
from runners.remote.http import ProviderSettings
from runners.remote.openai_images import OpenAIImagesRunner
from runners.remote.resilience import RetryPolicy
from runners.task import GenerationTask, ModelFamily, PipelineSpec, ProviderModelSource
from tests.support_loopback import LoopbackServer

Handler = Callable[[web.Request, int], Awaitable[web.StreamResponse]]
FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.05, max_retry_after_s=2.0)


def png_bytes(color: tuple[int, int, int] = (200, 30, 30), size: int = 16) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), color).save(buffer, format="PNG")
    return buffer.getvalue()


def provider_task(
    task_id: str = "remote-1", num_images: int = 1, model: str = "image-model"
) -> GenerationTask:
    return GenerationTask(
        task_id=task_id,
        pipeline=PipelineSpec(
            artifact_id="provider-image-model",
            family=ModelFamily.PROVIDER,
            source=ProviderModelSource(model=model),
        ),
        prompt="a red square",
        width=1024,
        height=1024,
        steps=20,
        seed=5,
        num_images=num_images,
    )


def settings(server: LoopbackServer, **overrides: object) -> ProviderSettings:
    values: dict[str, object] = {
        "runner_id": "provider-test",
        "base_url": server.base + "/v1",
        "api_key": "sk-test-secret",
        "retry": FAST_RETRY,
        "request_timeout_s": 2.0,
        "poll_interval_s": 0.01,
    }
    values.update(overrides)
    return ProviderSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Handler], Awaitable[LoopbackServer]]]:
    servers: list[LoopbackServer] = []

    async def start(handler: Handler) -> LoopbackServer:
        server = await LoopbackServer(respond=handler).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.stop()


def b64_answer(count: int = 1) -> web.Response:
    data = [{"b64_json": base64.b64encode(png_bytes()).decode()} for _ in range(count)]
    return web.json_response({"created": 1, "data": data})


async def test_openai_b64_images_with_key_from_settings(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        return b64_answer(json.loads(await request.read())["n"])

    server = await serve(handler)
    runner = OpenAIImagesRunner(settings(server))
    try:
        assert isinstance(runner, Runner)
        result = await runner.submit(provider_task(num_images=2))
    finally:
        await runner.close()

    sent = server.received[0]
    assert sent.path == "/v1/images/generations"
    assert sent.headers["Authorization"] == "Bearer sk-test-secret"
    assert json.loads(sent.body) == {
        "model": "image-model",
        "prompt": "a red square",
        "n": 2,
        "size": "1024x1024",
        "response_format": "b64_json",
    }
    assert len(result.images) == 2
    assert read_provenance(result.images[0].png)["task_id"] == "remote-1"
    assert "sk-test-secret" not in repr(runner.settings)


async def test_openai_url_output_is_downloaded_without_the_key(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        if request.path.startswith("/files/"):
            return web.Response(body=png_bytes(), content_type="image/png")
        return web.json_response({"data": [{"url": f"http://{request.host}/files/a.png"}]})

    server = await serve(handler)
    runner = OpenAIImagesRunner(settings(server, download_hosts=("127.0.0.1",)), response_format="url")
    try:
        result = await runner.submit(provider_task())
    finally:
        await runner.close()
    assert len(result.images) == 1
    assert server.received[1].path == "/files/a.png"


async def test_download_from_an_unlisted_host_is_refused(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        return web.json_response({"data": [{"url": "http://169.254.169.254/latest/meta-data"}]})

    runner = OpenAIImagesRunner(settings(await serve(handler)), response_format="url")
    try:
        with pytest.raises(ProviderError, match="not an allowed download host"):
            await runner.submit(provider_task())
    finally:
        await runner.close()


async def test_503_then_success_is_retried_and_retry_after_honoured(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        if n == 1:
            return web.Response(status=503)
        if n == 2:
            return web.Response(status=429, headers={"Retry-After": "1"})
        return b64_answer()

    server = await serve(handler)
    runner = OpenAIImagesRunner(settings(server))
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        result = await runner.submit(provider_task())
        waited = loop.time() - started
    finally:
        await runner.close()
    assert len(result.images) == 1
    assert len(server.received) == 3
    assert waited >= 1.0  # Retry-After: 1 was respected (a lower bound, not a timing assertion)


async def test_500_on_a_generation_post_is_not_retried(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=500)

    server = await serve(handler)
    runner = OpenAIImagesRunner(settings(server))
    try:
        with pytest.raises(ProviderError, match="answered 500"):
            await runner.submit(provider_task())
    finally:
        await runner.close()
    assert len(server.received) == 1


async def test_slow_provider_times_out(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        await asyncio.sleep(5)
        return b64_answer()

    runner = OpenAIImagesRunner(settings(await serve(handler), request_timeout_s=0.2))
    try:
        with pytest.raises(ProviderTimeoutError, match="timed out"):
            await runner.submit(provider_task())
    finally:
        await runner.close()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            lambda: web.Response(status=302, headers={"Location": "http://elsewhere/"}),
            "redirects are not followed",
        ),
        (
            lambda: web.Response(body=b"x" * 5000, content_type="application/json"),
            "declares 5000 bytes, cap 4096",
        ),
        (lambda: web.Response(text="<html>hi</html>", content_type="text/html"), "sent 'text/html'"),
        (
            lambda: web.json_response({"data": [{"b64_json": base64.b64encode(b"GIF89a nope").decode()}]}),
            "not a valid image",
        ),
        (lambda: web.json_response({"data": [{"b64_json": "%%%"}]}), "invalid base64"),
        (lambda: web.json_response({"unexpected": True}), "malformed images response"),
        (lambda: web.Response(status=400, text="bad prompt"), "rejected with 400"),
    ],
    ids=["redirect", "oversized", "content-type", "not-an-image", "bad-base64", "malformed", "rejected"],
)
async def test_bad_answers_fail_precisely(serve, answer, message: str) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        return answer()

    server = await serve(handler)
    runner = OpenAIImagesRunner(settings(server, max_response_bytes=4096))
    try:
        with pytest.raises(ProviderError, match=message):
            await runner.submit(provider_task())
    finally:
        await runner.close()
    assert len(server.received) == 1


async def test_oversized_body_without_length_is_cut_off(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for _ in range(100):
            await response.write(b" " * 1024)
        await response.write_eof()
        return response

    runner = OpenAIImagesRunner(settings(await serve(handler), max_response_bytes=4096))
    try:
        with pytest.raises(ProviderError, match="sent more than 4096 bytes"):
            await runner.submit(provider_task())
    finally:
        await runner.close()


async def test_circuit_opens_after_repeated_failures(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=502)

    server = await serve(handler)
    runner = OpenAIImagesRunner(settings(server, breaker_failures=2, breaker_reset_s=60))
    try:
        for i in range(2):
            with pytest.raises(ProviderError, match="answered 502"):
                await runner.submit(provider_task(task_id=f"t{i}"))
        with pytest.raises(CircuitOpenError):
            await runner.submit(provider_task(task_id="t3"))
        assert not (await runner.health()).ok
    finally:
        await runner.close()
    assert len(server.received) == 2


async def test_rejected_request_does_not_count_against_the_provider(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        return web.Response(status=400, text="no")

    runner = OpenAIImagesRunner(settings(await serve(handler), breaker_failures=1))
    try:
        for i in range(3):
            with pytest.raises(ProviderRejectedError):
                await runner.submit(provider_task(task_id=f"t{i}"))
        assert (await runner.health()).ok
    finally:
        await runner.close()


async def test_local_tasks_and_unknown_models_are_refused(serve) -> None:  # type: ignore[no-untyped-def]
    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        return b64_answer()

    runner = OpenAIImagesRunner(settings(await serve(handler), models=("image-model",)))
    try:
        with pytest.raises(TaskValidationError, match="not served by runner"):
            await runner.submit(provider_task(model="other-model"))
    finally:
        await runner.close()


def fal_handler(statuses: list[str], fail_first_status_with: int | None = None) -> Handler:
    state = {"polls": 0}

    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        path = request.path
        if request.method == "POST" and path == "/v1/image-model":
            return web.json_response({"request_id": "req-123", "status_url": "http://evil.example/status"})
        if path.endswith("/status"):
            state["polls"] += 1
            if fail_first_status_with is not None and state["polls"] == 1:
                return web.Response(status=fail_first_status_with)
            status = statuses[min(state["polls"] - 1, len(statuses) - 1)]
            return web.json_response({"status": status, "queue_position": 0})
        if path.endswith("/cancel") and request.method == "PUT":
            return web.json_response({"status": "CANCELLATION_REQUESTED"})
        if path == "/v1/image-model/requests/req-123":
            data_uri = "data:image/png;base64," + base64.b64encode(png_bytes()).decode()
            return web.json_response({"images": [{"url": data_uri, "content_type": "image/png"}], "seed": 5})
        return web.Response(status=404)

    return handler


async def test_fal_queue_submit_poll_fetch(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(fal_handler(["IN_QUEUE", "IN_PROGRESS", "COMPLETED"], fail_first_status_with=500))
    runner = FalQueueRunner(settings(server))
    try:
        result = await runner.submit(provider_task())
    finally:
        await runner.close()
    paths = [r.path for r in server.received]
    assert paths[0] == "/v1/image-model"
    assert server.received[0].headers["Authorization"] == "Key sk-test-secret"
    assert json.loads(server.received[0].body)["seed"] == 5
    assert (
        paths.count("/v1/image-model/requests/req-123/status") == 3
    )  # 500 (retried), IN_PROGRESS, COMPLETED
    assert paths[-1] == "/v1/image-model/requests/req-123"
    assert len(result.images) == 1


async def test_fal_queue_cancel_tells_the_provider(serve) -> None:  # type: ignore[no-untyped-def]
    server = await serve(fal_handler(["IN_QUEUE"]))
    runner = FalQueueRunner(settings(server))
    try:
        submitted = asyncio.create_task(runner.submit(provider_task()))
        while not any(r.path.endswith("/status") for r in server.received):  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert await runner.cancel("remote-1")
        with pytest.raises(TaskCanceledError):
            await submitted
    finally:
        await runner.close()
    assert server.received[-1].path == "/v1/image-model/requests/req-123/cancel"


async def test_fal_queue_failed_request(serve) -> None:  # type: ignore[no-untyped-def]
    runner = FalQueueRunner(settings(await serve(fal_handler(["IN_QUEUE", "FAILED"]))))
    try:
        with pytest.raises(ProviderError, match="ended with status FAILED"):
            await runner.submit(provider_task())
    finally:
        await runner.close()
