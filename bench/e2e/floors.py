"""What each part of the provider path costs, as floors: `python -m bench.e2e.floors`.

At c=1 and c=8, 6 s of wrk per run (`BENCH_E2E_SECONDS`), `BENCH_FLOOR_ROUNDS` rounds (default
2), SQLite, each server pinned to CPU 0 and the backend and wrk to CPU 1: the backend called
directly, the bare Litestar forwarder, the lean prototype (`bench/e2e/lean.py`) with no durable
write, with the decision appended durably, and with the decision and the outcome appended
durably, then the gateway itself. Prints the medians: requests/s, p50, what the median adds to
the backend called directly, and the server's CPU per request (user and system).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
from pathlib import Path

from bench.e2e import _token
from bench.e2e.lean import LEAN_PATH
from bench.e2e.processes import backend, uvicorn_app
from bench.e2e.provider_path import GENERATIONS
from bench.e2e.site import bootstrap
from bench.gateway.load import run_load
from bench.gateway.servers import cpu_times, free_port
from bench.gateway.targets import Target

GATEWAY_CPU = 0
OTHER_CPU = 1
LEAN = "bench.e2e.lean:lean_gateway_app"
# name, app factory (None: the backend itself), extra environment, path, whether it wants a token
SERVERS: tuple[tuple[str, str | None, dict[str, str], str | None, bool], ...] = (
    ("backend direct", None, {}, None, False),
    ("bare litestar forwarder", "bench.e2e.apps:forwarder_app", {}, None, False),
    ("lean, no durable write", LEAN, {"BENCH_LEAN_AUDIT": "none"}, LEAN_PATH, True),
    ("lean, decision durable", LEAN, {"BENCH_LEAN_AUDIT": "decision"}, LEAN_PATH, True),
    ("lean, decision and outcome durable", LEAN, {"BENCH_LEAN_AUDIT": "both"}, LEAN_PATH, True),
    ("clearance gateway", "bench.e2e.apps:gateway_app", {}, None, True),
)

Figures = tuple[float, float, float, float]
"""Requests/s, p50 ms, user and system CPU ms per request."""


def main() -> None:
    seconds = float(os.environ.get("BENCH_E2E_SECONDS", "6"))
    rounds = int(os.environ.get("BENCH_FLOOR_ROUNDS", "2"))
    runs: dict[tuple[str, int], list[Figures]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-floors-") as tmp:
        port = free_port()
        direct = f"http://127.0.0.1:{port}"
        env = bootstrap(Path(tmp), f"{direct}/v1")
        env["BENCH_BACKEND_URL"] = f"{direct}/v1"
        with backend(env, port, cpu=OTHER_CPU):
            for connections in (1, 8):
                for _ in range(rounds):
                    for name, factory, extra, path, wants_token in SERVERS:
                        with _server(factory, {**env, **extra}, direct) as base:
                            headers = {"Content-Type": "application/json"}
                            if wants_token:
                                headers["Authorization"] = f"Bearer {_token(base, env)}"
                                headers["Clearance-Purpose"] = "commercial_product"
                            target = Target(
                                name=name, method="POST", path=path or GENERATIONS.path, body=GENERATIONS.body
                            )
                            figures = _run(base, target, headers, seconds, connections)
                            runs.setdefault((name, connections), []).append(figures)
    print(f"bench.e2e.floors: medians of {rounds} runs of {seconds:g} s, SQLite")
    print(f"  {'server':<36} {'c':>2} {'req/s':>8} {'p50 ms':>7} {'added':>7} {'user ms':>8} {'sys ms':>7}")
    for connections in (1, 8):
        direct_p50 = statistics.median(f[1] for f in runs[("backend direct", connections)])
        for name, *_ in SERVERS:
            measured = runs[(name, connections)]
            rps, p50, user, system = (statistics.median(f[i] for f in measured) for i in range(4))
            print(
                f"  {name:<36} {connections:>2} {rps:>8.0f} {p50:>7.2f} {p50 - direct_p50:>7.2f} "
                f"{user:>8.3f} {system:>7.3f}"
            )


def _server(factory: str | None, env: dict[str, str], direct: str) -> contextlib.AbstractContextManager[str]:
    if factory is None:
        return contextlib.nullcontext(direct)
    return uvicorn_app(factory, env, cpu=GATEWAY_CPU, port=int(env["BENCH_PORT"]))


def _run(base: str, target: Target, headers: dict[str, str], seconds: float, connections: int) -> Figures:
    run_load(base, target, headers, seconds=1, connections=connections)  # warm-up
    before = cpu_times(base) or (0.0, 0.0)
    result = run_load(base, target, headers, seconds=seconds, connections=connections)
    after = cpu_times(base) or (0.0, 0.0)
    answered = max(result.requests_per_second * seconds, 1)
    return (
        result.requests_per_second,
        result.p50_ms,
        (after[0] - before[0]) / answered * 1000,
        (after[1] - before[1]) / answered * 1000,
    )


if __name__ == "__main__":
    main()
