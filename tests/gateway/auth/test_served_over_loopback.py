"""The whole path for real: the `clearance` CLI bootstraps a database, `clearance serve` runs the
gateway under uvicorn on loopback, a client talks plain HTTP to it, keys rotate underneath,
SIGTERM shuts it down gracefully."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support_served import CLI, free_port


def _kid(token: str) -> str:
    header = token.split(".")[0]
    kid: str = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))["kid"]
    return kid


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    port = free_port()
    return {
        **os.environ,
        "CLEARANCE_DATA_DIR": str(tmp_path / "data"),
        "CLEARANCE_ISSUER": f"http://127.0.0.1:{port}",
        "CLEARANCE_STATE_SYNC_SECONDS": "0.2",
        "PORT": str(port),
    }


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def server(environment: dict[str, str]) -> Iterator[str]:
    _cli(environment, "db", "upgrade")
    _cli(environment, "tenants", "create", "--id", "acme", "--name", "Acme")
    port = environment["PORT"]
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", port, "--no-access-log"],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, process.stdout.read().decode() if process.stdout else ""
            try:
                if httpx.get(f"{base}/health/ready", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "server did not become ready"
            time.sleep(0.2)
        yield base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            # uvicorn finishes requests in flight and the lifespan, then re-raises SIGTERM.
            assert process.wait(timeout=30) in (0, -signal.SIGTERM)
        output = process.stdout.read().decode() if process.stdout else ""
        if process.stdout:
            process.stdout.close()
        assert "Application shutdown complete" in output, output


def test_cli_bootstrap_token_rotation_over_real_http(environment: dict[str, str], server: str) -> None:
    created = json.loads(
        _cli(
            environment,
            "clients",
            "create",
            "--tenant",
            "acme",
            "--scopes",
            "models:read jobs:read",
            "--json",
        )
    )
    assert created["client_secret"]
    with httpx.Client(base_url=server, timeout=10) as http:
        issued = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(created["client_id"], created["client_secret"]),
        )
        assert issued.status_code == 200, issued.text
        old_token = issued.json()["access_token"]
        me = http.get("/v1/me", headers={"Authorization": f"Bearer {old_token}"})
        assert me.json()["tenant_id"] == "acme"

        new_kid = _cli(environment, "keys", "rotate").split()[-1]
        deadline = time.monotonic() + 30
        while (
            _kid(
                http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(created["client_id"], created["client_secret"]),
                ).json()["access_token"]
            )
            != new_kid
        ):
            assert time.monotonic() < deadline, "rotation not picked up"
            time.sleep(0.2)
        assert http.get("/v1/me", headers={"Authorization": f"Bearer {old_token}"}).status_code == 200
        kids = [key["kid"] for key in http.get("/.well-known/jwks.json").json()["keys"]]
        assert kids[0] == new_kid
        assert _kid(old_token) in kids

        missing = http.get("/v1/me")
        assert missing.status_code == 401
        assert missing.headers["content-type"].startswith("application/problem+json")
        too_big = http.post(
            "/oauth/token",
            content=b"a" * (2 * 1024 * 1024),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert too_big.status_code == 413


def test_clients_create_refuses_bad_input(environment: dict[str, str]) -> None:
    _cli(environment, "db", "upgrade")
    unknown_scope = subprocess.run(
        [*CLI, "clients", "create", "--tenant", "acme", "--scopes", "root"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert unknown_scope.returncode != 0
    assert "root" in unknown_scope.stderr
    no_tenant = subprocess.run(
        [*CLI, "clients", "create", "--tenant", "nobody", "--scopes", "models:read"],
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    assert no_tenant.returncode != 0
    assert "nobody" in no_tenant.stderr
