"""Subprocesses on loopback, optionally pinned to a CPU with `taskset` (one uvicorn worker)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx

from bench.e2e.site import free_port


def pinned(cpu: int | None) -> list[str]:
    if cpu is None or shutil.which("taskset") is None or cpu >= (os.cpu_count() or 1):
        return []
    return ["taskset", "-c", str(cpu)]


SERVER_PIDS: dict[str, int] = {}
"""The process serving each base URL while it runs (`taskset` execs its command: same pid)."""


def cpu_seconds(base: str) -> float | None:
    """User + system CPU time so far of the server at `base`, all its threads (Linux /proc)."""
    pid = SERVER_PIDS.get(base)
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def running(command: list[str], base: str, env: dict[str, str], *, ready_path: str = "/") -> Iterator[str]:
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)
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
    return running(command, f"http://127.0.0.1:{port}", env)


def backend(env: dict[str, str], port: int, *, cpu: int | None) -> contextlib.AbstractContextManager[str]:
    command = [*pinned(cpu), sys.executable, "-m", "bench.e2e.apps", str(port)]
    return running(command, f"http://127.0.0.1:{port}", env)
