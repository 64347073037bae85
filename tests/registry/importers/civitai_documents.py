"""Civitai API documents in the shapes `GET /api/v1/models/{id}` and
`GET /api/v1/model-versions/{id}` return (fields trimmed, unknown ones kept to prove they are
ignored)."""

from __future__ import annotations

import copy
from typing import Any

SHA_UPPER = "BBF3D8DEFBFB3FB71331CD999C3B5D7A2CC0B7AE6B3D6F1B1A6C35C23D7F5A1E"


def _file(
    name: str, *, fmt: str = "SafeTensor", sha: str | None = SHA_UPPER, primary: bool = True
) -> dict[str, Any]:
    hashes: dict[str, str] = {"AutoV1": "5C6A2F3D", "AutoV2": "BBF3D8DEFB", "CRC32": "8C3B9D12"}
    if sha is not None:
        hashes["SHA256"] = sha
    return {
        "id": 102101,
        "sizeKB": 166590.9,
        "name": name,
        "type": "Model",
        "pickleScanResult": "Success",
        "pickleScanMessage": "No Pickle imports",
        "virusScanResult": "Success",
        "metadata": {"format": fmt, "size": None, "fp": None},
        "hashes": hashes,
        "primary": primary,
        "downloadUrl": "https://civitai.com/api/download/models/135931",
    }


def _version(
    version_id: int, base_model: str, files: list[dict[str, Any]], name: str = "v1.0"
) -> dict[str, Any]:
    return {
        "id": version_id,
        "index": 0,
        "name": name,
        "baseModel": base_model,
        "baseModelType": "Standard",
        "status": "Published",
        "availability": "Public",
        "trainedWords": ["pixel art"],
        "stats": {"downloadCount": 1234, "rating": 5},
        "files": files,
        "images": [{"url": "https://image.civitai.com/x.jpeg", "nsfwLevel": 1}],
        "downloadUrl": f"https://civitai.com/api/download/models/{version_id}",
    }


def model(
    *,
    model_id: int = 120096,
    model_type: str = "LORA",
    commercial: Any = ("Image", "RentCivit"),
    no_credit: bool = True,
    versions: list[dict[str, Any]] | None = None,
    base_model: str = "SDXL 1.0",
) -> dict[str, Any]:
    """A model document; `commercial` in the list form (a tuple here) or the legacy string."""
    return {
        "id": model_id,
        "name": "Pixel Art XL",
        "description": "<p>Pixel art LoRA</p>",
        "allowNoCredit": no_credit,
        "allowCommercialUse": list(commercial) if isinstance(commercial, tuple) else commercial,
        "allowDerivatives": True,
        "allowDifferentLicense": False,
        "type": model_type,
        "minor": False,
        "poi": False,
        "nsfw": False,
        "nsfwLevel": 1,
        "stats": {"downloadCount": 1234},
        "creator": {"username": "nerijs", "image": None},
        "tags": ["pixel art", "style"],
        "modelVersions": versions
        if versions is not None
        else [_version(135931, base_model, [_file("pixel-art-xl-v1.1.safetensors")], name="v1.1")],
    }


def model_version(*, base_model: str = "Flux.1 D", model_id: int = 120096) -> dict[str, Any]:
    version = _version(135931, base_model, [_file("flux-style.safetensors")])
    version["modelId"] = model_id
    version["model"] = {"name": "Flux Style", "type": "LORA", "nsfw": False, "poi": False}
    return version


def with_versions(document: dict[str, Any], *versions: dict[str, Any]) -> dict[str, Any]:
    copied = copy.deepcopy(document)
    copied["modelVersions"] = list(versions)
    return copied


version = _version
file = _file
