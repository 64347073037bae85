"""Subprocesses on loopback, optionally pinned to a CPU with `taskset` (one uvicorn worker)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys

from bench.gateway.servers import free_port, running


def pinned(cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None or cpu >= (os.cpu_count() or 1):
        return []
    return ["taskset", "-c", str(cpu)]


def uvicorn_app(
    factory: str, env: dict[str, str], *, cpu: int | None, port: int | None = None
) -> contextlib.AbstractContextManager[str]:
    port = port or free_port()
    command = [
        *pinned(cpu),
        sys.executable,
        "-m",
        "uvicorn",
        factory,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--no-access-log",
        "--log-level",
        "warning",
        "--workers",
        "1",
    ]
    return running(command, f"http://127.0.0.1:{port}", env, stdout=subprocess.DEVNULL)


def backend(env: dict[str, str], port: int, *, cpu: int | None) -> contextlib.AbstractContextManager[str]:
    command = [*pinned(cpu), sys.executable, "-m", "bench.e2e.apps", str(port)]
    return running(command, f"http://127.0.0.1:{port}", env, stdout=subprocess.DEVNULL)
