"""(a) Gateway overhead per job on the tiny FLUX.2 model: the job's wall time seen by the client
(`POST /v1/jobs` with `Prefer: wait=60`, admission, audit, queue, runner, image store, answer)
minus the time the runner itself took for it, at 1 and at 32 concurrent clients."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from gateway.jobs.tiny_catalog import TINY_FLUX2

BODY = {"model": TINY_FLUX2, "prompt": "a lighthouse at dusk", "steps": 2, "width": 32, "height": 32}


@dataclass(frozen=True)
class OverheadFigures:
    clients: int
    jobs: int
    jobs_per_second: float
    overhead_p50_ms: float
    overhead_p99_ms: float
    runner_p50_ms: float
    wall_p50_ms: float
    failures: int


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def drive(base: str, token: str, *, clients: int, jobs: int) -> tuple[dict[str, float], float, int]:
    """Job id -> client wall seconds, the elapsed time, and how many jobs did not succeed."""
    walls: dict[str, float] = {}
    failures = 0
    remaining = jobs
    headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=60"}
    async with aiohttp.ClientSession(base_url=base) as session:

        async def client() -> None:
            nonlocal remaining, failures
            while remaining > 0:
                remaining -= 1
                started = time.perf_counter()
                async with session.post("/v1/jobs", json=BODY, headers=headers) as response:
                    job = await response.json()
                wall = time.perf_counter() - started
                if response.status != 200 or job.get("status") != "succeeded":
                    failures += 1
                    continue
                walls[job["id"]] = wall

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return walls, elapsed, failures


def measure(base: str, token: str, runner_log: Path, *, clients: int, jobs: int) -> OverheadFigures:
    asyncio.run(drive(base, token, clients=1, jobs=3))  # warm: pipeline loaded, caches filled
    walls, elapsed, failures = asyncio.run(drive(base, token, clients=clients, jobs=jobs))
    runner_s = {}
    for line in runner_log.read_text().splitlines():
        entry = json.loads(line)
        runner_s[entry["task"]] = entry["runner_s"]
    overheads = [walls[j] - runner_s[j] for j in walls if j in runner_s]
    if not overheads:
        raise RuntimeError(f"no job succeeded ({failures} failures)")
    return OverheadFigures(
        clients=clients,
        jobs=len(walls),
        jobs_per_second=len(walls) / elapsed,
        overhead_p50_ms=_quantile(overheads, 0.5) * 1000,
        overhead_p99_ms=_quantile(overheads, 0.99) * 1000,
        runner_p50_ms=statistics.median(runner_s[j] for j in walls if j in runner_s) * 1000,
        wall_p50_ms=statistics.median(walls.values()) * 1000,
        failures=failures,
    )


def report(figures: OverheadFigures) -> None:
    print(
        f"  {figures.clients:>2} clients, {figures.jobs:>4} jobs: {figures.jobs_per_second:7.1f} jobs/s   "
        f"overhead p50 {figures.overhead_p50_ms:7.1f} ms  p99 {figures.overhead_p99_ms:7.1f} ms   "
        f"(wall p50 {figures.wall_p50_ms:.1f} ms, runner p50 {figures.runner_p50_ms:.1f} ms, "
        f"{figures.failures} failed)"
    )
