"""End-to-end benchmark: `python -m bench.e2e`.

(a) gateway overhead per job on the tiny FLUX.2 model at 1 and 32 clients, and jobs/s;
(b) the provider path under wrk at c=1, 8, 64 beside the backend direct and a bare forwarder,
after the CPU one 1024x1024 provider image costs to accept (`bench/e2e/provider_images.py`).
The gateway runs as one uvicorn worker pinned to CPU 0; the backend and wrk use CPU 1.
Targets (issue 7): >= 3,000 requests/s at c=8 and < 1 ms added at the median at c=1.

Environment: `BENCH_E2E_ONLY=provider` runs part (b) alone (`jobs` runs part (a) alone);
`BENCH_E2E_POSTGRES=on|off` (default on) runs the gateway on PostgreSQL too, `on` failing when
PostgreSQL is unreachable instead of skipping it; `BENCH_E2E_LEAN=on|off` (default on) runs the
lean prototype beside the gateway; `BENCH_E2E_SECONDS` is the length of each wrk run. Each row
also prints the serving process's CPU time per request answered (all its threads, from /proc),
which shows where a path is CPU-bound.

The gateway's data (database, images) goes under `tempfile`'s directory. On an ext4 without a
journal (the development machine's), creating a file in an inode group where many files were
deleted in the last minutes costs 300-900 us of kernel CPU (`recently_deleted` in the inode
allocator) instead of 15-60 us, and each run deletes its site, so the slow directory moves (it
was `/tmp` at one time, `/var/tmp` after a few runs there). When the gateway's CPU per request
jumps, time `os.open(..., O_CREAT)` in a few directories and set `TMPDIR` to a fast one.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import httpx

from bench.e2e import jobs_overhead, provider_images, provider_path
from bench.e2e.lean import LEAN_PATH
from bench.e2e.processes import backend, uvicorn_app
from bench.e2e.site import bootstrap, free_port, postgres_database

GATEWAY_CPU = 0
OTHER_CPU = 1
CONCURRENCY = (1, 8, 64)


def _token(base: str, env: dict[str, str]) -> str:
    response = httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(env["BENCH_CLIENT_ID"], env["BENCH_CLIENT_SECRET"]),
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def _switch(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value not in ("on", "off"):
        raise SystemExit(f"{name} must be 'on' or 'off', not {value!r}")
    return value == "on"


def main(seconds: float | None = None, jobs_at_32: int | None = None) -> None:
    seconds = seconds or float(os.environ.get("BENCH_E2E_SECONDS", "8"))
    jobs_at_32 = jobs_at_32 or int(os.environ.get("BENCH_E2E_JOBS", "160"))
    only = os.environ.get("BENCH_E2E_ONLY", "").strip().lower()
    if only not in ("", "provider", "jobs"):
        raise SystemExit(f"BENCH_E2E_ONLY must be 'provider' or 'jobs', not {only!r}")
    with_postgres = _switch("BENCH_E2E_POSTGRES", "on")
    with_lean = _switch("BENCH_E2E_LEAN", "on")
    print(
        f"bench.e2e: {os.cpu_count()} CPUs; gateway pinned to CPU {GATEWAY_CPU}, "
        f"load and backend to CPU {OTHER_CPU}"
    )
    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as tmp:
        directory = Path(tmp)
        backend_port = free_port()
        backend_url = f"http://127.0.0.1:{backend_port}/v1"
        started = time.perf_counter()
        env = bootstrap(directory, backend_url)
        env["BENCH_BACKEND_URL"] = backend_url
        env["BENCH_RUNNER_LOG"] = str(directory / "runner-times.jsonl")
        print(f"set-up (migrate, tiny models, catalog, client): {time.perf_counter() - started:.1f} s")

        if only != "provider":
            _jobs_part(env, jobs_at_32)
        if only != "jobs":
            _provider_part(env, directory, backend_port, backend_url, seconds, with_postgres, with_lean)


def _jobs_part(env: dict[str, str], jobs_at_32: int) -> None:
    print("(a) gateway overhead per job, tiny FLUX.2 (2 steps, 32x32), POST /v1/jobs with Prefer: wait=60")
    with uvicorn_app(
        "bench.e2e.apps:timed_gateway_app", env, cpu=GATEWAY_CPU, port=int(env["BENCH_PORT"])
    ) as base:
        token = _token(base, env)
        log = Path(env["BENCH_RUNNER_LOG"])
        for clients, jobs in ((1, 40), (32, jobs_at_32)):
            log.write_text("")
            jobs_overhead.report(jobs_overhead.measure(base, token, log, clients=clients, jobs=jobs))


def _provider_part(
    env: dict[str, str],
    directory: Path,
    backend_port: int,
    backend_url: str,
    seconds: float,
    with_postgres: bool,
    with_lean: bool,
) -> None:
    provider_images.report()
    print(f"(b) provider path under wrk ({seconds:g} s per run), fake backend answering ~1 KB")
    rows: list[provider_path.PathFigures] = []
    with backend(env, backend_port, cpu=OTHER_CPU) as direct:
        for c in CONCURRENCY:
            rows.append(provider_path.load("backend direct", direct, {}, connections=c, seconds=seconds))
        with uvicorn_app("bench.e2e.apps:forwarder_app", env, cpu=GATEWAY_CPU) as bare:
            for c in CONCURRENCY:
                rows.append(
                    provider_path.load("bare litestar forwarder", bare, {}, connections=c, seconds=seconds)
                )
        rows += _gateway_rows("clearance gateway", env, seconds)
        if with_lean:
            rows += _gateway_rows("lean prototype (bench/e2e/lean.py)", env, seconds, lean=True)
        if with_postgres:
            with postgres_database(required=os.environ.get("BENCH_E2E_POSTGRES") == "on") as postgres_url:
                if postgres_url is not None:
                    pg_env = bootstrap(directory / "pg", backend_url, postgres_url)
                    rows += _gateway_rows("clearance gateway (PostgreSQL)", pg_env, seconds)
        else:
            print("PostgreSQL run off (BENCH_E2E_POSTGRES=off)")
    provider_path.report(rows)


def _gateway_rows(
    name: str, env: dict[str, str], seconds: float, *, lean: bool = False
) -> list[provider_path.PathFigures]:
    factory = "bench.e2e.lean:lean_gateway_app" if lean else "bench.e2e.apps:gateway_app"
    path = LEAN_PATH if lean else None
    with uvicorn_app(factory, env, cpu=GATEWAY_CPU, port=int(env["BENCH_PORT"])) as gateway:
        auth = {"Authorization": f"Bearer {_token(gateway, env)}", "Clearance-Purpose": "commercial_product"}
        provider_path.load(name, gateway, auth, connections=1, seconds=2, path=path)  # warm-up
        return [
            provider_path.load(name, gateway, auth, connections=c, seconds=seconds, path=path)
            for c in CONCURRENCY
        ]
