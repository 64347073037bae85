"""Two checkouts' provider paths, alternated: `python -m bench.e2e.compare OLD_TREE NEW_TREE`.

A single wrk run on a shared machine swings by a third. This takes turns: a fresh gateway from
each tree (its own code: the server runs in that tree), a 1 s warm-up, then a wrk run per
concurrency, `BENCH_COMPARE_ROUNDS` times (default 3). It prints each run and then the medians.
Each run shows requests/s, p50, and the gateway's CPU per request from /proc, split into user and
system time. Both trees share one backend and one site, on SQLite, or on a fresh PostgreSQL
database with `BENCH_COMPARE_DATABASE=postgresql`. Environment: `BENCH_E2E_SECONDS` (default 5),
`BENCH_COMPARE_CONNECTIONS` (default `1,8`).
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

from bench.e2e import _token
from bench.e2e.processes import backend, uvicorn_app
from bench.e2e.provider_path import GENERATIONS
from bench.e2e.site import bootstrap, free_port, postgres_database
from bench.gateway.load import run_load
from bench.gateway.servers import cpu_times

GATEWAY_CPU = 0
OTHER_CPU = 1


def _cpu(base: str) -> tuple[float, float]:
    times = cpu_times(base)
    if times is None:
        raise SystemExit("bench.e2e.compare reads the servers' CPU time from /proc (Linux only)")
    return times


def main() -> None:
    trees = [str(Path(t).resolve()) for t in sys.argv[1:]]
    if len(trees) < 2 or not all((Path(t) / "gateway").is_dir() for t in trees):
        raise SystemExit(
            "usage: python -m bench.e2e.compare OLD_TREE NEW_TREE (checkouts of this repository)"
        )
    seconds = float(os.environ.get("BENCH_E2E_SECONDS", "5"))
    rounds = int(os.environ.get("BENCH_COMPARE_ROUNDS", "3"))
    connections = [int(c) for c in os.environ.get("BENCH_COMPARE_CONNECTIONS", "1,8").split(",")]
    runs: dict[tuple[str, int], list[tuple[float, float, float, float]]] = defaultdict(list)
    on_postgres = os.environ.get("BENCH_COMPARE_DATABASE", "sqlite") == "postgresql"
    with (
        tempfile.TemporaryDirectory(prefix="bench-compare-") as tmp,
        postgres_database(required=True) if on_postgres else contextlib.nullcontext() as database_url,
    ):
        backend_port = free_port()
        backend_url = f"http://127.0.0.1:{backend_port}/v1"
        env = bootstrap(Path(tmp), backend_url, database_url)
        env["BENCH_BACKEND_URL"] = backend_url
        headers_base = {"Content-Type": "application/json"}
        with backend(env, backend_port, cpu=OTHER_CPU):
            for _ in range(rounds):
                for tree in trees:
                    # The server imports the tree it runs in: `python -m` puts the working
                    # directory first, and the subprocess starts in the tree.
                    tree_env = {**env, "PYTHONPATH": tree}
                    with (
                        contextlib.chdir(tree),
                        uvicorn_app("bench.e2e.apps:gateway_app", tree_env, cpu=GATEWAY_CPU) as base,
                    ):
                        headers = {**headers_base, "Authorization": f"Bearer {_token(base, env)}"}
                        run_load(base, GENERATIONS, headers, seconds=1, connections=8)
                        for c in connections:
                            user, system = _cpu(base)
                            result = run_load(base, GENERATIONS, headers, seconds=seconds, connections=c)
                            user2, system2 = _cpu(base)
                            answered = max(result.requests_per_second * seconds, 1)
                            figures = (
                                result.requests_per_second,
                                result.p50_ms,
                                (user2 - user) / answered * 1000,
                                (system2 - system) / answered * 1000,
                            )
                            runs[(tree, c)].append(figures)
                            print(f"{tree}  c={c:<3d}" + _row(figures), flush=True)
    print("medians:")
    for (tree, c), figures in runs.items():
        print(f"{tree}  c={c:<3d}" + _row(tuple(statistics.median(f[i] for f in figures) for i in range(4))))


def _row(figures: tuple[float, ...]) -> str:
    rps, p50, user, system = figures
    cpu = f"CPU {user + system:.3f} ms/req (user {user:.3f}, system {system:.3f})"
    return f" {rps:7.0f} req/s  p50 {p50:6.2f} ms  {cpu}"


if __name__ == "__main__":
    main()
