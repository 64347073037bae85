"""Helpers for the importer tests: the catalog imports resolve against (the built-in licenses plus
a few real base models) and a writer of repository snapshots in the layouts huggingface_hub leaves."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import msgspec

from registry.catalog.builtin import load_builtin_catalog
from registry.catalog.entries import Artifact, Catalog

BASES = [
    {
        "id": "black-forest-labs/FLUX.2-dev",
        "kind": "base_model",
        "name": "FLUX.2 [dev]",
        "license": "flux-dev-ncl@2.0",
        "family": "flux2",
        "source": {"type": "huggingface", "repo_id": "black-forest-labs/FLUX.2-dev"},
    },
    {
        "id": "black-forest-labs/FLUX.1-dev",
        "kind": "base_model",
        "name": "FLUX.1 [dev]",
        "license": "flux-dev-ncl@1.1.1",
        "family": "flux1",
        "source": {"type": "huggingface", "repo_id": "black-forest-labs/FLUX.1-dev"},
    },
    {
        "id": "black-forest-labs/FLUX.1-schnell",
        "kind": "base_model",
        "name": "FLUX.1 [schnell]",
        "license": "apache@2.0",
        "family": "flux1",
    },
    {
        "id": "stabilityai/stable-diffusion-3.5-large",
        "kind": "base_model",
        "name": "Stable Diffusion 3.5 Large",
        "license": "stability-ai-community@2024-07-05",
        "family": "sd3",
    },
    {
        "id": "stabilityai/stable-diffusion-xl-base-1.0",
        "kind": "base_model",
        "name": "SDXL 1.0",
        "license": "creativeml-openrail-pp-m@2023-07-26",
        "family": "sdxl",
    },
    {
        "id": "stabilityai/sdxl-turbo",
        "kind": "base_model",
        "name": "SDXL-Turbo",
        "license": "stability-ai-nc-research@2023-11-28",
        "family": "sdxl",
    },
    {
        "id": "stable-diffusion-v1-5/stable-diffusion-v1-5",
        "kind": "base_model",
        "name": "Stable Diffusion 1.5",
        "license": "creativeml-openrail-m@2022-08-22",
        "family": "sd1",
    },
]


def import_catalog() -> Catalog:
    """The built-in catalog with the bases above added where it does not already hold them."""
    builtin = load_builtin_catalog()
    held = {a.id for a in builtin.artifacts}
    extra = tuple(msgspec.convert(b, Artifact) for b in BASES if b["id"] not in held)
    return msgspec.structs.replace(
        builtin, artifacts=builtin.artifacts + extra, runners=(), agreements=(), tenants=()
    )


def safetensors_bytes(seed: str = "w") -> bytes:
    """A real (tiny) safetensors file: u64 header length, JSON header, one F32 tensor."""
    header = json.dumps(
        {seed: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "__metadata__": {"format": "pt"}}
    ).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header + b"\x00\x00\x80\x3f"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


COMMIT = "0123456789abcdef0123456789abcdef01234567"


def write_snapshot(
    root: Path,
    readme: str | None,
    files: dict[str, bytes],
    *,
    layout: str = "local_dir",
    commit: str = COMMIT,
    recorded: dict[str, str] | None = None,
) -> Path:
    """A snapshot as `huggingface_hub` leaves it: `local_dir` (download metadata files), `cache`
    (`snapshots/<commit>/` linked to `blobs/<sha256>`) or `plain` (no revision recorded).
    `recorded` overrides the sha256 recorded for a file (to simulate a corrupted download)."""
    recorded = recorded or {}
    contents = dict(files)
    if readme is not None:
        contents["README.md"] = readme.encode()
    if layout == "cache":
        repo = root / "models--owner--name"
        directory = repo / "snapshots" / commit
        for name, data in contents.items():
            blob = repo / "blobs" / recorded.get(name, sha256(data))
            blob.parent.mkdir(parents=True, exist_ok=True)
            blob.write_bytes(data)
            link = directory / name
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(blob)
        return directory
    directory = root / "snapshot"
    for name, data in contents.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        if layout == "local_dir":
            meta = directory / ".cache" / "huggingface" / "download" / f"{name}.metadata"
            meta.parent.mkdir(parents=True, exist_ok=True)
            meta.write_text(f"{commit}\n{recorded.get(name, sha256(data))}\n{path.stat().st_mtime + 1}\n")
    directory.mkdir(parents=True, exist_ok=True)
    return directory
