"""Bootstrapping a database and running an app under uvicorn in a subprocess on loopback."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

UVICORN_FLAGS = ["--factory", "--no-access-log", "--log-level", "warning", "--workers", "1"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _cli(env: dict[str, str], *args: str) -> str:
    command = [sys.executable, "-c", "from gateway.cli import main; main()", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout


def bootstrap(directory: Path) -> dict[str, str]:
    """A migrated SQLite database with the built-in catalog and a tenant; the environment for
    every process."""
    port = free_port()
    env = {
        **os.environ,
        "CLEARANCE_DATA_DIR": str(directory),
        "CLEARANCE_ISSUER": f"http://127.0.0.1:{port}",
        "BENCH_PORT": str(port),
    }
    _cli(env, "db", "upgrade")
    _cli(env, "catalog", "load", "--builtin")
    _cli(env, "tenants", "create", "--id", "bench", "--name", "Bench")
    return env


def fetch_token(base: str, env: dict[str, str], scopes: str) -> str:
    client = json.loads(_cli(env, "clients", "create", "--tenant", "bench", "--scopes", scopes, "--json"))
    response = httpx.post(
        f"{base}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


SERVER_PIDS: dict[str, int] = {}
"""The process serving each base URL while it runs (`taskset` execs its command: same pid)."""


def cpu_times(base: str) -> tuple[float, float] | None:
    """User and system CPU time so far of the server at `base`, all its threads (Linux /proc)."""
    pid = SERVER_PIDS.get(base)
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(base: str) -> float | None:
    """User + system CPU time so far of the server at `base` (see `cpu_times`)."""
    times = cpu_times(base)
    return None if times is None else sum(times)


@contextlib.contextmanager
def running(
    command: list[str], base: str, env: dict[str, str], *, ready_path: str = "/", stdout: int | None = None
) -> Iterator[str]:
    """Run `command` until the block ends, once `base` + `ready_path` answers below 500."""
    process = subprocess.Popen(command, env=env, stdout=stdout)
    SERVER_PIDS[base] = process.pid
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{base}{ready_path}", timeout=2).status_code < 500:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not start")
            time.sleep(0.2)
        yield base
    finally:
        SERVER_PIDS.pop(base, None)
        process.terminate()
        process.wait(timeout=60)


def serve(app: str, env: dict[str, str]) -> contextlib.AbstractContextManager[str]:
    port = env["BENCH_PORT"]
    command = [sys.executable, "-m", "uvicorn", app, "--host", "127.0.0.1", "--port", port, *UVICORN_FLAGS]
    return running(command, f"http://127.0.0.1:{port}", env)
