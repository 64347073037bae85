"""A real HTTP load generator on loopback: wrk when installed (apt-get install wrk), otherwise a
closed-loop aiohttp generator. Both report requests per second and latency percentiles."""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.gateway.targets import Target


@dataclass(frozen=True)
class LoadResult:
    requests_per_second: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    errors: int
    tool: str


def run_load(
    base: str, target: Target, headers: dict[str, str], *, seconds: float, connections: int
) -> LoadResult:
    if shutil.which("wrk"):
        return _wrk(base, target, headers, seconds=seconds, connections=connections)
    return asyncio.run(_aiohttp(base, target, headers, seconds=seconds, connections=connections))


def _lua_string(value: str | bytes) -> str:
    text = value.decode() if isinstance(value, bytes) else value
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _wrk(
    base: str, target: Target, headers: dict[str, str], *, seconds: float, connections: int
) -> LoadResult:
    lines = [f"wrk.method = {_lua_string(target.method)}"]
    if target.body:
        lines.append(f"wrk.body = {_lua_string(target.body)}")
    lines += [f"wrk.headers[{_lua_string(k)}] = {_lua_string(v)}" for k, v in headers.items()]
    lines.append(
        "done = function(summary, latency, requests)\n"
        '  io.write(string.format("P50 %d\\nP90 %d\\nP99 %d\\nNON2XX %d\\n", latency:percentile(50),'
        " latency:percentile(90), latency:percentile(99), summary.errors.status))\nend"
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write("\n".join(lines))
    try:
        output = subprocess.run(
            [
                "wrk",
                "-t1",
                f"-c{connections}",
                f"-d{int(seconds)}s",
                "-s",
                script.name,
                f"{base}{target.path}",
            ],
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        ).stdout
    finally:
        Path(script.name).unlink()
    rps = float(_field(r"Requests/sec:\s+([\d.]+)", output))
    values = {name: int(_field(rf"{name} (\d+)", output)) for name in ("P50", "P90", "P99", "NON2XX")}
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return LoadResult(
        requests_per_second=rps,
        p50_ms=values["P50"] / 1000,
        p90_ms=values["P90"] / 1000,
        p99_ms=values["P99"] / 1000,
        errors=values["NON2XX"] + (1 if socket_errors else 0),
        tool="wrk",
    )


def _field(pattern: str, output: str) -> str:
    match = re.search(pattern, output)
    if match is None:
        raise RuntimeError(f"unexpected wrk output (no {pattern!r}):\n{output}")
    return match.group(1)


async def _aiohttp(
    base: str, target: Target, headers: dict[str, str], *, seconds: float, connections: int
) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(base_url=base, connector=connector) as session:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                async with session.request(
                    target.method, target.path, data=target.body or None, headers=headers
                ) as response:
                    await response.read()
                    if response.status >= 300:
                        errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return LoadResult(
        requests_per_second=len(latencies) / elapsed,
        p50_ms=cuts[49] * 1000,
        p90_ms=cuts[89] * 1000,
        p99_ms=cuts[98] * 1000,
        errors=errors,
        tool="aiohttp",
    )
