"""`clearance demo` as a user runs it: a subprocess serving on a free port, its printed curl and
openai-client commands executed as printed, then a second run on the same data directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from gateway.demo.catalog import HOBBY, STUDIO
from gateway.demo.credentials import CREDENTIALS_FILE
from gateway.demo.walkthrough import END_MARK, PROOF_MARK, PYTHON_MARK, SCENARIOS, SHELL_MARK

VENV_BIN = Path(sys.executable).parent


@dataclass
class DemoRun:
    base_url: str
    printed: list[str]

    def block(self, start: str, end: str) -> list[str]:
        return self.printed[self.printed.index(start) + 1 : self.printed.index(end)]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def running_demo(data_dir: Path) -> Iterator[DemoRun]:
    port = _free_port()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PATH": f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}"}
    env.pop("CLEARANCE_DATABASE_URL", None)
    log = (data_dir.parent / f"demo-{port}.log").open("w")
    process = subprocess.Popen(
        [str(VENV_BIN / "clearance"), "demo", "--port", str(port), "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        printed: list[str] = []
        for line in process.stdout:
            printed.append(line.rstrip("\n"))
            if line.startswith(END_MARK):
                break
        assert END_MARK in printed, "\n".join(printed)
        base_url = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                if httpx.get(f"{base_url}/health/ready").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (data_dir.parent / f"demo-{port}.log").read_text()
            time.sleep(0.1)
        yield DemoRun(base_url, printed)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            log.close()


def _run_shell(lines: list[str], cwd: Path | None = None) -> str:
    result = subprocess.run(
        ["bash", "-e", "-c", "\n".join(lines)], capture_output=True, text=True, timeout=120, cwd=cwd
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _scenarios(run: DemoRun) -> dict[str, tuple[int, dict[str, Any]]]:
    """Each printed scenario run with the printed token lines: its status and JSON body."""
    shell = run.block(SHELL_MARK, PYTHON_MARK)
    first = next(i for i, line in enumerate(shell) if line.startswith("# ("))
    setup, results = shell[:first], {}
    for scenario in SCENARIOS:
        at = shell.index(next(line for line in shell if line.startswith(f"# ({scenario.key})")))
        body, status = _run_shell([*setup, shell[at + 1]]).strip().rsplit("\n", 1)
        results[scenario.key] = (int(status.removeprefix("HTTP ")), json.loads(body))
    return results


def _token(base_url: str, client: dict[str, str]) -> httpx.Response:
    return httpx.post(
        f"{base_url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )


def test_the_demo_serves_its_three_scenarios_and_reruns_idempotently(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo-data"
    with running_demo(data_dir) as run:
        credentials = json.loads((data_dir / CREDENTIALS_FILE).read_text())
        assert (data_dir / CREDENTIALS_FILE).stat().st_mode & 0o077 == 0
        assert {c["tenant"] for c in credentials["clients"]} == {HOBBY, STUDIO}
        for client in credentials["clients"]:
            assert "jobs:write" in client["scopes"]
            assert _token(run.base_url, client).status_code == 200

        results = _scenarios(run)
        assert {key: status for key, (status, _) in results.items()} == {
            s.key: s.expected_status for s in SCENARIOS
        }, results
        allowed, denied, licensed = results["a"][1], results["b"][1], results["c"][1]
        assert allowed["status"] == "succeeded"
        assert denied["type"] == "urn:clearance:problem:license-denied"
        assert any(r["clause"] and r["license"] == "flux-dev-ncl@2.0" for r in denied["reasons"])
        assert denied["alternatives"]
        assert licensed["status"] == "succeeded"
        assert licensed["decision"]["agreements"]

        # The proof lines: the studio's last image, traced by the audit log (cwd: where it lands).
        shell = run.block(SHELL_MARK, PYTHON_MARK)
        setup = shell[: next(i for i, line in enumerate(shell) if line.startswith("# ("))]
        proof = shell[shell.index(next(line for line in shell if line.startswith(PROOF_MARK))) + 1 :]
        proven = _run_shell([*setup, *proof], cwd=tmp_path)
        assert f"is image 0 of job {licensed['id']}" in proven, proven
        assert licensed["decision"]["agreements"][0] in proven
        usage = json.loads(proven.strip().splitlines()[-1])  # the last line: GET /v1/usage
        quota = next(a for a in usage["agreements"] if a["agreement"] in licensed["decision"]["agreements"])
        assert quota["used"] >= 1
        assert quota["remaining"] == quota["monthly_quota"] - quota["used"]

        script = "\n".join(run.block(PYTHON_MARK, END_MARK))
        printed = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
        ).stdout
        assert f"{HOBBY} denied: " in printed
        assert f"{STUDIO} served: job " in printed
        first_clients = credentials["clients"]

    with running_demo(data_dir) as again:
        assert any("tiny models reused" in line for line in again.printed)
        catalog_line = next(line for line in again.printed if line.startswith("catalog:"))
        assert "created" not in catalog_line
        assert "updated" not in catalog_line
        rotated = json.loads((data_dir / CREDENTIALS_FILE).read_text())["clients"]
        assert {c["client_id"] for c in rotated}.isdisjoint(c["client_id"] for c in first_clients)
        assert all(_token(again.base_url, c).status_code == 401 for c in first_clients)
        assert _scenarios(again)["c"][0] == 200
