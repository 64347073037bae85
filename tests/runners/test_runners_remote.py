"""Provider runners against real provider servers on loopback: slow, failing, rate-limited,
oversized, redirecting, wrong content type, not an image."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from urllib.parse import urlsplit

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
from runners.remote.bfl_api import BflApiRunner
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


def bfl_handler(
    server_base: Callable[[], str], statuses: list[str], polling_host: str | None = None
) -> Handler:
    """BFL's API: POST /v1/<model> -> {id, polling_url}; GET the polling URL -> status until
    Ready with a sample URL on a delivery host (here `localhost`, the same server)."""
    polls: dict[str, int] = {}

    async def handler(request: web.Request, n: int) -> web.StreamResponse:
        base = server_base()
        if request.method == "POST" and request.path == "/v1/image-model":
            seed = json.loads(await request.read())["seed"]
            if polling_host == "":
                return web.json_response({"id": f"gen-{seed}"})  # no polling URL: the endpoint's own
            host = polling_host or base
            return web.json_response(
                {"id": f"gen-{seed}", "polling_url": f"{host}/v1/get_result?id=gen-{seed}"}
            )
        if request.path == "/v1/get_result":
            generation = request.query["id"]
            polls[generation] = polls.get(generation, 0) + 1
            status = statuses[min(polls[generation] - 1, len(statuses) - 1)]
            if status == "500":
                return web.Response(status=500)
            sample = base.replace("127.0.0.1", "localhost") + f"/delivery/{generation}.png"
            return web.json_response({"id": generation, "status": status, "result": {"sample": sample}})
        if request.path.startswith("/delivery/"):
            color = (10, 200, 10) if request.path.endswith("gen-5.png") else (10, 10, 200)
            return web.Response(body=png_bytes(color), content_type="image/png")
        return web.Response(status=404)

    return handler


def bfl_settings(server: LoopbackServer) -> ProviderSettings:
    return settings(server, base_url=server.base, download_hosts=("localhost",))


async def test_bfl_api_submits_one_request_per_image_polls_and_downloads_without_the_key(serve) -> None:  # type: ignore[no-untyped-def]
    holder: list[LoopbackServer] = []
    server = await serve(bfl_handler(lambda: holder[0].base, ["Pending", "500", "Pending", "Ready"]))
    holder.append(server)
    runner = BflApiRunner(bfl_settings(server))
    try:
        result = await runner.submit(provider_task(num_images=2))
    finally:
        await runner.close()
    posts = [r for r in server.received if r.path == "/v1/image-model"]
    assert sorted(json.loads(r.body)["seed"] for r in posts) == [5, 6]  # the task's per-image seeds
    assert all(r.headers["x-key"] == "sk-test-secret" for r in posts)
    polls = [r for r in server.received if r.path.startswith("/v1/get_result")]
    assert len(polls) == 8  # per image: Pending, 500 (retried), Pending, Ready
    assert all(r.headers["x-key"] == "sk-test-secret" for r in polls)
    downloads = [r for r in server.received if r.path.startswith("/delivery/")]
    assert len(downloads) == 2
    assert all("x-key" not in r.headers for r in downloads)
    first = Image.open(io.BytesIO(result.images[0].png))
    assert first.getpixel((0, 0)) == (10, 200, 10)  # image 0 is seed 5's sample
    assert [image.seed for image in result.images] == [5, 6]
    assert read_provenance(result.images[1].png)["seed"] == "6"


async def test_bfl_api_polling_url_elsewhere_gets_no_request_and_fails_the_task(serve) -> None:  # type: ignore[no-untyped-def]
    holder: list[LoopbackServer] = []
    server = await serve(bfl_handler(lambda: holder[0].base, ["Ready"], polling_host="http://evil.example"))
    holder.append(server)
    runner = BflApiRunner(bfl_settings(server))
    try:
        with pytest.raises(ProviderError, match=r"polling URL 'http://evil\.example/.*the key is not sent"):
            await runner.submit(provider_task())
    finally:
        await runner.close()
    assert [r.path for r in server.received] == ["/v1/image-model"]


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        ("https://api.bfl.ai/v1/get_result?id=a", True),
        ("https://api.us1.bfl.ai/v1/get_result?id=a", True),
        ("http://api.us1.bfl.ai/v1/get_result?id=a", False),  # the endpoint's scheme only
        ("https://api.bfl.ai.evil.example/v1/get_result?id=a", False),
        ("https://evilbfl.ai/v1/get_result?id=a", False),
        ("https://api.us1.bfl.ai:8443/v1/get_result?id=a", False),
    ],
)
def test_bfl_api_sends_the_key_only_to_hosts_of_the_endpoint_domain(url: str, accepted: bool) -> None:
    runner = BflApiRunner(ProviderSettings(runner_id="bfl", base_url="https://api.bfl.ai", api_key="k"))
    if accepted:
        assert runner._polling_url(url) == url
        assert urlsplit(url).netloc in runner.client.key_netlocs
    else:
        with pytest.raises(ProviderError, match="the key is not sent there"):
            runner._polling_url(url)
        assert urlsplit(url).netloc not in runner.client.key_netlocs


@pytest.mark.parametrize(
    ("status", "error"),
    [
        ("Content Moderated", ProviderRejectedError),
        ("Error", ProviderError),
        ("Task not found", ProviderError),
    ],
)
async def test_bfl_api_ended_requests_fail_with_their_status(
    serve, status: str, error: type[Exception]
) -> None:  # type: ignore[no-untyped-def]
    holder: list[LoopbackServer] = []
    server = await serve(bfl_handler(lambda: holder[0].base, ["Pending", status]))
    holder.append(server)
    runner = BflApiRunner(bfl_settings(server))
    try:
        with pytest.raises(error, match=f"ended with status {status}"):
            await runner.submit(provider_task())
        assert (await runner.health()).ok  # a refused prompt is not a provider failure either
    finally:
        await runner.close()


async def test_bfl_api_sample_on_an_unlisted_host_is_refused(serve) -> None:  # type: ignore[no-untyped-def]
    holder: list[LoopbackServer] = []
    server = await serve(bfl_handler(lambda: holder[0].base, ["Ready"]))
    holder.append(server)
    runner = BflApiRunner(settings(server, base_url=server.base, download_hosts=(".example.com",)))
    try:
        with pytest.raises(ProviderError, match="not an allowed download host"):
            await runner.submit(provider_task())
    finally:
        await runner.close()
    assert not any(r.path.startswith("/delivery/") for r in server.received)


async def test_bfl_api_without_a_polling_url_polls_the_endpoint(serve) -> None:  # type: ignore[no-untyped-def]
    holder: list[LoopbackServer] = []
    server = await serve(bfl_handler(lambda: holder[0].base, ["Pending", "Ready"], polling_host=""))
    holder.append(server)
    runner = BflApiRunner(bfl_settings(server))
    try:
        result = await runner.submit(provider_task())
    finally:
        await runner.close()
    polls = [r for r in server.received if r.path.startswith("/v1/get_result")]
    assert [r.path for r in polls] == ["/v1/get_result?id=gen-5"] * 2
    assert all(r.headers["x-key"] == "sk-test-secret" for r in polls)
    assert len(result.images) == 1
