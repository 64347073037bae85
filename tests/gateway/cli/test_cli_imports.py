"""`clearance import hf|civitai` through click's CliRunner on a real SQLite database."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from gateway.cli import main
from registry.db import migrate

COMMIT = "0123456789abcdef0123456789abcdef01234567"
APACHE_TAGGED_FLUX_LORA = """---
license: apache-2.0
base_model: black-forest-labs/FLUX.1-dev
tags: [lora, template:sd-lora]
---
"""

CIVITAI_MODEL = {
    "id": 7,
    "name": "Pixel",
    "type": "LORA",
    "allowNoCredit": False,
    "allowCommercialUse": "Rent",
    "allowDerivatives": True,
    "allowDifferentLicense": False,
    "creator": {"username": "artist"},
    "modelVersions": [
        {
            "id": 70,
            "name": "v1",
            "baseModel": "SDXL 1.0",
            "files": [
                {
                    "name": "pixel.safetensors",
                    "type": "Model",
                    "metadata": {"format": "SafeTensor"},
                    "hashes": {"SHA256": "AB" * 32},
                    "primary": True,
                }
            ],
        }
    ],
}


def _safetensors() -> bytes:
    header = json.dumps({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"\x00\x00\x80\x3f"


def _cli(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database-url", url, *args], catch_exceptions=False)


@pytest.fixture
def database(sqlite_url: str) -> str:
    """A database holding the built-in catalog (its licenses and base models)."""
    migrate.upgrade(sqlite_url)
    loaded = _cli(sqlite_url, "catalog", "load", "--builtin")
    assert loaded.exit_code == 0, loaded.output
    return sqlite_url


def _snapshot(tmp_path: Path, files: dict[str, bytes]) -> Path:
    directory = tmp_path / "snapshot"
    for name, data in {"README.md": APACHE_TAGGED_FLUX_LORA.encode(), **files}.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_bytes(data)
    return directory


def test_import_hf_prints_declared_and_effective_license(database: str, tmp_path: Path) -> None:
    weights = _safetensors()
    directory = _snapshot(tmp_path, {"lora.safetensors": weights})
    result = _cli(database, "import", "hf", f"someone/flux-lora@{COMMIT}", "--local-dir", str(directory))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "declared     apache-2.0" in lines
    assert "license      flux-dev-ncl@1.1.1" in lines
    assert "flags        declared_more_permissive_than_base" in lines
    assert "bases        black-forest-labs/FLUX.1-dev (adapter)" in lines
    assert f"file         lora.safetensors sha256 {hashlib.sha256(weights).hexdigest()}" in lines
    assert f"revision     {COMMIT}" in lines
    assert lines[-1] == "imported: artifacts: 1 created"
    exported = _cli(database, "catalog", "export")
    assert "someone/flux-lora" in exported.output


def test_dry_run_and_refusals_write_nothing(database: str, tmp_path: Path) -> None:
    directory = _snapshot(tmp_path / "a", {"lora.safetensors": _safetensors()})
    dry = _cli(database, "import", "hf", f"someone/dry@{COMMIT}", "--local-dir", str(directory), "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert dry.output.splitlines()[-1] == "dry run: nothing written"

    pickled = _snapshot(tmp_path / "b", {"pytorch_lora_weights.bin": b"pickle"})
    refused = _cli(database, "import", "hf", f"someone/pickled@{COMMIT}", "--local-dir", str(pickled))
    assert refused.exit_code == 1
    assert "weights only in pickle formats (pytorch_lora_weights.bin)" in refused.output

    unpinned = _cli(database, "import", "hf", "someone/unpinned", "--local-dir", str(directory))
    assert unpinned.exit_code == 1
    assert "pass REPO_ID@<40-hex commit sha>" in unpinned.output

    exported = _cli(database, "catalog", "export").output
    assert "someone/dry" not in exported
    assert "someone/pickled" not in exported


def test_import_civitai_file_as_json(database: str, tmp_path: Path) -> None:
    path = tmp_path / "model.json"
    path.write_text(json.dumps(CIVITAI_MODEL))
    result = CliRunner().invoke(
        main, ["--database-url", database, "import", "civitai", str(path), "--json"], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    entry = json.loads(result.stdout)
    assert entry["id"] == "civitai/7/70"
    assert entry["license"] == "creativeml-openrail-pp-m@2023-07-26"
    assert entry["creator_permissions"] == {
        "allow_no_credit": False,
        "allow_commercial_use": ["Image", "Rent", "RentCivit"],
        "allow_different_license": False,
        "creator": "artist",
    }
    assert entry["source"]["files"] == [{"name": "pixel.safetensors", "sha256": "ab" * 32}]


class _CivitaiHandler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        body = json.dumps(CIVITAI_MODEL).encode()
        status = 200 if self.path == "/api/v1/models/7" else 404
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def civitai_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CivitaiHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_import_civitai_url_needs_the_loopback_allowlisted(database: str, civitai_url: str) -> None:
    url = f"{civitai_url}/api/v1/models/7"
    refused = _cli(database, "import", "civitai", url, "--allow-http")
    assert refused.exit_code == 1
    assert "is refused" in refused.output
    host = civitai_url.removeprefix("http://")
    fetched = _cli(database, "import", "civitai", url, "--allow-http", "--allow-host", host, "--dry-run")
    assert fetched.exit_code == 0, fetched.output
    assert "artifact     civitai/7/70 (adapter, Pixel v1)" in fetched.output
    assert (
        "creator      artist: commercial use Image, Rent, RentCivit; no credit needed no;" in fetched.output
    )
    bad = _cli(database, "import", "civitai", url, "--allow-host", "not an entry")
    assert bad.exit_code == 2
    assert "--allow-host" in bad.output
