"""POST /admin/imports/hf: a local snapshot under the configured root is imported through the
same importer as the CLI, written with an audited change; where to read from is never the
request's choice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.gateway.api.conftest import Api, open_api
from tests.gateway.auth.conftest import make_settings
from tests.registry.importers import hf_cards
from tests.registry.importers.import_fixtures import safetensors_bytes, write_snapshot

LORA = "someone/sks-dog-flux-lora"


@pytest.fixture
def import_root(tmp_path: Path) -> Path:
    root = tmp_path / "snapshots"
    write_snapshot(root, hf_cards.NOISY_APACHE_LORA, {"sks.safetensors": safetensors_bytes()})
    return root


@pytest.fixture
async def importing_api(tmp_path: Path, sqlite_api_db: str, import_root: Path) -> AsyncIterator[Api]:
    settings = make_settings(
        tmp_path, sqlite_api_db, hf_import_root=import_root, hf_endpoint="http://127.0.0.1:9/hub"
    )
    async for value in open_api(settings):
        yield value


async def test_local_snapshot_import_is_written_and_audited(importing_api: Api) -> None:
    api = importing_api
    headers = await api.admin()
    dry = await api.http.post(
        "/admin/imports/hf", headers=headers, json={"repo": LORA, "local_dir": "snapshot", "dry_run": True}
    )
    assert dry.status_code == 201, dry.text
    assert dry.json()["written"] is False
    assert (await api.call("GET", f"/v1/models/{LORA}")).status_code == 404

    done = await api.http.post(
        "/admin/imports/hf", headers=headers, json={"repo": LORA, "local_dir": "snapshot"}
    )
    assert done.status_code == 201, done.text
    artifact = done.json()["artifact"]
    assert artifact["declared_license"] == "apache-2.0"
    assert artifact["license"].startswith("flux-dev-ncl@")  # a LoRA stays under its base's license
    seen = await api.call("GET", f"/v1/models/{LORA}")
    assert seen.status_code == 200
    assert "commercial_product" not in seen.json()["usable_for"]
    events = (await api.http.get("/admin/audit", headers=headers, params={"kind": "admin.change"})).json()[
        "events"
    ]
    assert [(e["payload"]["action"], e["payload"]["target"]) for e in events] == [("artifact.import", LORA)]


async def test_where_to_read_from_is_the_operators_choice(importing_api: Api) -> None:
    api = importing_api
    headers = await api.admin()
    for escape in ("../", "/etc", "snapshot/../../.."):
        refused = await api.http.post(
            "/admin/imports/hf", headers=headers, json={"repo": LORA, "local_dir": escape}
        )
        assert refused.status_code == 400, (escape, refused.text)
        assert "local_dir" in refused.json()["detail"]
    endpoint = await api.http.post(
        "/admin/imports/hf", headers=headers, json={"repo": LORA, "endpoint": "http://evil"}
    )
    assert endpoint.status_code == 422
    assert endpoint.json()["errors"][0]["field"] == "endpoint"
    # The configured endpoint is plain http on loopback: the outbound guard refuses it.
    hub = await api.http.post("/admin/imports/hf", headers=headers, json={"repo": LORA})
    assert hub.status_code == 422
    assert "refused outbound URL" in hub.json()["detail"]
    missing = await api.http.post(
        "/admin/imports/hf", headers=headers, json={"repo": "someone/absent", "local_dir": "nothing-here"}
    )
    assert missing.status_code == 422


async def test_local_imports_need_a_configured_root(api: Api) -> None:
    refused = await api.http.post(
        "/admin/imports/hf", headers=await api.admin(), json={"repo": LORA, "local_dir": "snapshot"}
    )
    assert refused.status_code == 400
    assert "CLEARANCE_HF_IMPORT_ROOT" in refused.json()["detail"]
