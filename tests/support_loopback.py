"""Real HTTP servers on loopback for tests: a receiver that records what it gets, and a forward
proxy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class LoopbackServer:
    """An aiohttp.web server on 127.0.0.1; `respond` decides each answer (default 204)."""

    respond: Callable[[web.Request, int], Awaitable[web.StreamResponse]] | None = None
    received: list[Received] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None

    async def start(self) -> LoopbackServer:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.received.append(Received(path=request.path_qs, headers=dict(request.headers), body=body))
        if self.respond is not None:
            return await self.respond(request, len(self.received))
        return web.Response(status=204)


_HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authorization", "proxy-connection", "te", "trailer", "host"}
)


async def forward(request: web.Request, _n: int) -> web.StreamResponse:
    """What a forward proxy does with a plain-HTTP request (`request.url` is the absolute URL the
    client asked for): send it on, and answer with what came back."""
    headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
    async with (
        aiohttp.ClientSession(trust_env=False, auto_decompress=False) as session,
        session.request(
            request.method,
            str(request.url),
            headers=headers,
            data=await request.read(),
            allow_redirects=False,
        ) as answer,
    ):
        body = await answer.read()
        kept = {k: v for k, v in answer.headers.items() if k.lower() in ("content-type", "retry-after")}
        return web.Response(status=answer.status, body=body, headers=kept)


def forward_proxy() -> LoopbackServer:
    """An HTTP forward proxy on loopback; `received` holds what clients sent it (the target in
    the `Host` header, and their `Proxy-Authorization`)."""
    return LoopbackServer(respond=forward)


class ThreadedServer:
    """A `LoopbackServer` on an event loop of its own thread, for a client that blocks the test's
    loop while it waits (Litestar's test client runs the app through a portal in another thread)."""

    def __init__(self, server: LoopbackServer) -> None:
        self.server = server
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self._loop).result(timeout=10)
        return self.server

    def __exit__(self, *_exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
