"""Gateway benchmark: authenticated requests per second and latency percentiles under a real
HTTP load generator on loopback, beside a bare Litestar app answering a constant under the same
uvicorn settings; plus the in-process cost of validating a token.

`python -m bench.gateway` (BENCH_SECONDS, BENCH_CONNECTIONS tune the load).
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from bench.gateway import asgi_overhead
from bench.gateway.load import LoadResult, run_load
from bench.gateway.servers import bootstrap, fetch_token, serve
from bench.gateway.targets import BARE, GATEWAY_TARGETS
from bench.gateway.validation import time_validation


def main() -> None:
    seconds = float(os.environ.get("BENCH_SECONDS", "5"))
    connections = int(os.environ.get("BENCH_CONNECTIONS", "16"))
    with tempfile.TemporaryDirectory(prefix="clearance-bench-") as directory:
        env = bootstrap(Path(directory))
        print(f"load: {connections} connections, {seconds:.0f} s per target, 1 uvicorn worker each")

        with serve("bench.gateway.apps:bare_app", env) as base:
            run_load(base, BARE, {}, seconds=1, connections=connections)  # warm-up, discarded
            bare = run_load(base, BARE, {}, seconds=seconds, connections=connections)
        _print(BARE.name, bare)

        with serve("bench.gateway.apps:gateway_app", env) as base:
            tokens: dict[str, str] = {}
            for target in GATEWAY_TARGETS:
                headers = dict(target.headers)
                if target.authenticated:
                    if target.scopes not in tokens:
                        tokens[target.scopes] = fetch_token(base, env, target.scopes)
                    headers["Authorization"] = f"Bearer {tokens[target.scopes]}"
                run_load(base, target, headers, seconds=1, connections=connections)  # warm-up
                result = run_load(base, target, headers, seconds=seconds, connections=connections)
                _print(target.name, result)
                print(
                    f"    vs bare: {result.requests_per_second / bare.requests_per_second:.2f}x RPS, "
                    f"median +{result.p50_ms - bare.p50_ms:.2f} ms"
                )

        figures = asyncio.run(time_validation())
        print(
            "in-process token validation (median of "
            f"{figures.samples}): cached {figures.cached_us:.1f} us, "
            f"first sight (ES256 verify) {figures.first_sight_us:.1f} us, "
            f"rejected forgery {figures.rejected_us:.1f} us"
        )
        asgi_overhead.main(env)


def _print(name: str, result: LoadResult) -> None:
    print(
        f"{name:45s} {result.requests_per_second:9.0f} req/s  p50 {result.p50_ms:6.2f} ms  "
        f"p90 {result.p90_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms  errors {result.errors}  ({result.tool})"
    )
