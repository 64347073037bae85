"""The API for real: the `clearance` CLI bootstraps a database (catalog, tenant, agreement,
clients; each change audited as `cli:<user>`), `clearance serve` runs uvicorn on loopback, and a
client talks plain HTTP to it."""

from __future__ import annotations

import getpass
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

FLUX2_DEV = "black-forest-labs/FLUX.2-dev"


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def environment(tmp_path: Path) -> dict[str, str]:
    port = free_port()
    return {
        **os.environ,
        "CLEARANCE_DATA_DIR": str(tmp_path / "data"),
        "CLEARANCE_ISSUER": f"http://127.0.0.1:{port}",
        "PORT": str(port),
    }


@pytest.fixture
def served(environment: dict[str, str]) -> Iterator[tuple[str, dict[str, str], dict[str, str]]]:
    """(base URL, client credentials of a tenant, of an admin)."""
    env = environment
    _cli(env, "db", "upgrade")
    _cli(env, "catalog", "load", "--builtin")
    _cli(env, "tenants", "create", "--id", "acme", "--name", "Acme")
    _cli(
        env, "agreements", "create", "--id", "acme-flux", "--holder", "acme",
        "--licensor", "Black Forest Labs, Inc.", "--family", "flux-dev-ncl",
        "--purpose", "commercial_internal", "--valid-from", "2025-01-01",
    )  # fmt: skip
    refused = subprocess.run(
        [*CLI, "agreements", "create", "--id", "x", "--holder", "nobody", "--licensor", "L",
         "--artifact", FLUX2_DEV, "--purpose", "personal", "--valid-from", "2025-01-01"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "holder" in refused.stderr
    assert "nobody" in refused.stderr
    tenant = json.loads(
        _cli(env, "clients", "create", "--tenant", "acme", "--scopes", "models:read audit:read", "--json")
    )
    admin = json.loads(_cli(env, "clients", "create", "--tenant", "acme", "--scopes", "admin", "--json"))
    port = env["PORT"]
    process = subprocess.Popen(
        [*CLI, "serve", "--host", "127.0.0.1", "--port", port, "--no-access-log"],
        env=env,
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
        yield base, tenant, admin
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def _token(http: httpx.Client, client: dict[str, str]) -> dict[str, str]:
    response = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_models_policy_admin_and_audit_over_loopback(
    served: tuple[str, dict[str, str], dict[str, str]],
) -> None:
    base, tenant, admin = served
    with httpx.Client(base_url=base, timeout=30) as http:
        headers, admin_headers = _token(http, tenant), _token(http, admin)
        models = {m["id"]: m for m in http.get("/v1/models", headers=headers).json()["data"]}
        assert "commercial_internal" in models[FLUX2_DEV]["usable_for"]
        assert "commercial_product" not in models[FLUX2_DEV]["usable_for"]
        decision = http.post(
            "/v1/policy/evaluate",
            headers=headers,
            json={"model_id": FLUX2_DEV, "purpose": "commercial_product"},
        )
        assert decision.status_code == 200
        assert decision.json()["decision"]["decision"] == "deny"
        assert decision.json()["deciding_clauses"]

        profile = {"organisation_type": "company", "country": "US", "annual_revenue_usd": 10}
        assert http.put("/admin/tenants/acme/profile", headers=admin_headers, json=profile).status_code == 200
        trail = http.get("/v1/audit", headers=headers).json()["events"]
        actors = [(e["payload"]["action"], e["actor_subject"]) for e in trail]
        cli_actor = f"cli:{getpass.getuser()}"
        assert actors[:4] == [
            ("tenant.create", cli_actor),
            ("agreement.create", cli_actor),
            ("client.create", cli_actor),
            ("client.create", cli_actor),
        ]
        assert actors[4] == ("tenant.profile.update", admin["client_id"])
        assert http.get("/admin/audit/verify", headers=admin_headers).json()["ok"] is True
        refused = http.get("/admin/audit", headers=headers)
        assert refused.status_code == 403
