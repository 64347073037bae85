"""(b) The provider path under wrk: `POST /v1/images/generations` through the gateway (JWT,
policy, durable audit, job, provider runner) to a fake OpenAI-Images backend answering a
constant ~1 KB body, beside the backend called directly and a bare Litestar forwarder (aiohttp)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from bench.e2e.site import PROVIDER_MODEL
from bench.gateway.load import LoadResult, run_load
from bench.gateway.servers import cpu_seconds
from bench.gateway.targets import Target

GENERATIONS = Target(
    name="POST /v1/images/generations",
    method="POST",
    path="/v1/images/generations",
    body=json.dumps({"model": PROVIDER_MODEL, "prompt": "a lighthouse at dusk", "size": "256x256"}).encode(),
)


@dataclass(frozen=True)
class PathFigures:
    name: str
    connections: int
    result: LoadResult
    cpu_ms_per_request: float | None = None
    """The serving process's CPU time (all threads) per request answered, during the run."""


def load(
    name: str,
    base: str,
    headers: dict[str, str],
    *,
    connections: int,
    seconds: float,
    path: str | None = None,
) -> PathFigures:
    merged = {"Content-Type": "application/json", **headers}
    target = GENERATIONS
    if path is not None:
        target = Target(name=target.name, method="POST", path=path, body=target.body)
    before = cpu_seconds(base)
    result = run_load(base, target, merged, seconds=seconds, connections=connections)
    after = cpu_seconds(base)
    answered = result.requests_per_second * seconds
    cpu = (
        (after - before) / answered * 1000 if before is not None and after is not None and answered else None
    )
    return PathFigures(name, connections, result, cpu)


# The figures for its own machine: 3,000 requests/s at c=8 wanted, where a bare Litestar
# forwarder through aiohttp does about 7,600; the same target on this machine is that share of
# the bare forwarder measured here.
TARGET_AT_C8 = 3_000
REFERENCE_BARE_AT_C8 = 7_600


def report(rows: list[PathFigures]) -> None:
    by = {(r.name, r.connections): r.result for r in rows}
    print(
        f"  {'path':<34} {'c':>3} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU ms/req':>10}"
    )
    for row in rows:
        r = row.result
        cpu = f"{row.cpu_ms_per_request:10.3f}" if row.cpu_ms_per_request is not None else f"{'-':>10}"
        print(
            f"  {row.name:<34} {row.connections:>3} {r.requests_per_second:>9.0f} {r.p50_ms:>8.2f} "
            f"{r.p99_ms:>8.2f} {r.errors:>7} {cpu}"
        )
    for connections in sorted({r.connections for r in rows}):
        bare = by.get(("bare litestar forwarder", connections))
        direct = by.get(("backend direct", connections))
        for name in sorted({r.name for r in rows} - {"backend direct", "bare litestar forwarder"}):
            gateway = by.get((name, connections))
            if gateway is None or bare is None or direct is None:
                continue
            print(
                f"  {name}, c={connections:<3} gateway/bare throughput "
                f"{gateway.requests_per_second / bare.requests_per_second:5.2f}"
                f"   gateway/direct {gateway.requests_per_second / direct.requests_per_second:5.2f}"
                f"   added at p50 vs direct {gateway.p50_ms - direct.p50_ms:6.2f} ms, vs bare forwarder "
                f"{gateway.p50_ms - bare.p50_ms:6.2f} ms"
            )
    bare8 = by.get(("bare litestar forwarder", 8))
    if bare8 is not None:
        scaled = TARGET_AT_C8 * bare8.requests_per_second / REFERENCE_BARE_AT_C8
        print(
            f"  target at c=8 scaled to this machine: {TARGET_AT_C8:,} req/s where the bare forwarder "
            f"did {REFERENCE_BARE_AT_C8:,}, so {scaled:,.0f} here "
            f"(bare forwarder {bare8.requests_per_second:,.0f})"
        )
        for name in sorted({r.name for r in rows} - {"backend direct", "bare litestar forwarder"}):
            gateway = by.get((name, 8))
            if gateway is not None:
                share = gateway.requests_per_second / scaled
                rate = gateway.requests_per_second
                print(f"    {name}: {rate:,.0f} req/s, {share:.2f} of the scaled target")
