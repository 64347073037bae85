"""aiohttp against httpx on loopback: the HTTP client sits on the remote runners' hot path."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import httpx
from aiohttp import web

REQUESTS = 3000
CONCURRENCY = 32


async def _server() -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({"status": "IN_PROGRESS", "queue_position": 0})

    app = web.Application()
    app.router.add_get("/status", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}/status"


async def _drive(call: object, count: int) -> float:
    semaphore = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with semaphore:
            await call()  # type: ignore[operator]

    started = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - started)


async def _measure() -> dict[str, float]:
    server, url = await _server()
    rates: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession() as session:

            async def aiohttp_call() -> None:
                async with session.get(url, allow_redirects=False) as response:
                    await response.read()

            await _drive(aiohttp_call, 200)
            rates["aiohttp"] = await _drive(aiohttp_call, REQUESTS)
        async with httpx.AsyncClient(follow_redirects=False) as client:

            async def httpx_call() -> None:
                response = await client.get(url)
                response.read()

            await _drive(httpx_call, 200)
            rates["httpx"] = await _drive(httpx_call, REQUESTS)
    finally:
        await server.cleanup()
    return rates


def main() -> None:
    rates = asyncio.run(_measure())
    print(
        f"http clients, {REQUESTS} GETs on loopback, {CONCURRENCY} concurrent (server in the same process):"
    )
    for name, rate in rates.items():
        print(f"  {name:8s} {rate:8.0f} requests/s")
    print(f"  aiohttp/httpx: {rates['aiohttp'] / rates['httpx']:.1f}x")
