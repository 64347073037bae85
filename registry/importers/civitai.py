"""`import civitai FILE_OR_URL`: a catalog entry from Civitai's REST API documents.

Accepts both shapes the API returns: a model (`GET /api/v1/models/{id}`, with its permission flags
and `modelVersions`) and a model version (`GET /api/v1/model-versions/{id}`, without the flags;
from a URL the importer fetches the parent model for them). The creator's flags become
`CreatorPermissions`, layered on the base license and never widening it; the artifact's own
license is its base's, since Civitai declares none of its own. Only a SafeTensor file is accepted,
pinned by its SHA256.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import msgspec

from registry.catalog.entries import UNKNOWN_LICENSE, Catalog
from registry.importers import flags
from registry.importers.bases import BaseIndex
from registry.importers.errors import (
    NOT_JSON,
    MissingFileError,
    PickleOnlyError,
    SourceFormatError,
    UnknownBaseError,
)
from registry.importers.fetch import fetch_json
from registry.importers.inheritance import license_chain, license_from_bases
from registry.importers.result import ImportResult, keep_curated_fields, validated_artifact
from registry.netguard import OutboundPolicy
from registry.vocabulary import ArtifactKind, BaseRelation, CivitaiCommercialUse

CIVITAI_BASE_MODELS: Mapping[str, tuple[str, ...]] = {
    "flux.1 d": ("black-forest-labs/FLUX.1-dev",),
    "flux.1 s": ("black-forest-labs/FLUX.1-schnell",),
    "flux.1 krea": ("black-forest-labs/FLUX.1-Krea-dev",),
    "flux.1 kontext": ("black-forest-labs/FLUX.1-Kontext-dev",),
    "flux.2 d": ("black-forest-labs/FLUX.2-dev",),
    "flux.2 klein 4b": ("black-forest-labs/FLUX.2-klein-4B",),
    "sdxl 1.0": ("stabilityai/stable-diffusion-xl-base-1.0",),
    "sdxl turbo": ("stabilityai/sdxl-turbo",),
    "sd 1.5": ("stable-diffusion-v1-5/stable-diffusion-v1-5", "runwayml/stable-diffusion-v1-5"),
    "sd 3": ("stabilityai/stable-diffusion-3-medium", "stabilityai/stable-diffusion-3-medium-diffusers"),
    "sd 3.5": ("stabilityai/stable-diffusion-3.5-large",),
    "sd 3.5 large": ("stabilityai/stable-diffusion-3.5-large",),
    "sd 3.5 large turbo": ("stabilityai/stable-diffusion-3.5-large-turbo",),
    "sd 3.5 medium": ("stabilityai/stable-diffusion-3.5-medium",),
    "pony": ("LyliaEngine/Pony_Diffusion_V6_XL", "pony-diffusion-v6-xl"),
    "illustrious": ("OnomaAIResearch/Illustrious-xl-early-release-v0", "illustrious-xl"),
    "noobai": ("Laxhar/noobai-XL-1.1", "noobai-xl"),
    "playground v2": ("playgroundai/playground-v2.5-1024px-aesthetic",),
    "pixart e": ("PixArt-alpha/PixArt-Sigma-XL-2-1024-MS",),
    "hunyuan 1": ("Tencent-Hunyuan/HunyuanDiT-v1.2-Diffusers", "Tencent-Hunyuan/HunyuanDiT"),
    "qwen": ("Qwen/Qwen-Image",),
    "hidream": ("HiDream-ai/HiDream-I1-Full",),
    "aura flow": ("fal/AuraFlow-v0.3", "fal/AuraFlow"),
    "lumina": ("Alpha-VLLM/Lumina-Image-2.0",),
}
"""Civitai `baseModel` strings (lowercased, spaces collapsed) -> catalog artifact ids to try, in
order. A string that maps to nothing in the catalog is an error (`Other` included)."""

ADAPTER_TYPES = frozenset({"lora", "locon", "dora", "lycoris"})
CHECKPOINT_TYPES = frozenset({"checkpoint"})

_LEGACY_COMMERCIAL = {
    "none": (),
    "image": (CivitaiCommercialUse.IMAGE,),
    "rentcivit": (CivitaiCommercialUse.IMAGE, CivitaiCommercialUse.RENT_CIVIT),
    "rent": (CivitaiCommercialUse.IMAGE, CivitaiCommercialUse.RENT_CIVIT, CivitaiCommercialUse.RENT),
    "sell": (
        CivitaiCommercialUse.IMAGE,
        CivitaiCommercialUse.RENT_CIVIT,
        CivitaiCommercialUse.RENT,
        CivitaiCommercialUse.SELL,
    ),
}
"""The older API's single value is hierarchical: Sell implies Rent implies (RentCivit and) Image."""

_PICKLE_FORMATS = frozenset({"picketensor", "pickletensor", "pickle", "ckpt", "pt"})


class _Struct(msgspec.Struct, kw_only=True, rename="camel"):
    pass


class CivitaiFileMetadata(_Struct):
    format: str | None = None
    fp: str | None = None
    size: str | None = None


class CivitaiFile(_Struct):
    name: str
    id: int | None = None
    type: str | None = None
    metadata: CivitaiFileMetadata = msgspec.field(default_factory=CivitaiFileMetadata)
    hashes: dict[str, str] = {}
    primary: bool = False
    download_url: str | None = None


class CivitaiCreator(_Struct):
    username: str | None = None


class CivitaiVersionModel(_Struct):
    name: str | None = None
    type: str | None = None


class CivitaiVersion(_Struct):
    id: int
    name: str
    base_model: str
    files: list[CivitaiFile] = []
    model_id: int | None = None
    trained_words: list[str] = []
    download_url: str | None = None
    model: CivitaiVersionModel | None = None


class CivitaiPermissions(_Struct):
    allow_no_credit: bool | None = None
    allow_commercial_use: list[str] | str | None = None
    allow_derivatives: bool | None = None
    allow_different_license: bool | None = None

    @property
    def present(self) -> bool:
        return any(
            value is not None
            for value in (
                self.allow_no_credit,
                self.allow_commercial_use,
                self.allow_derivatives,
                self.allow_different_license,
            )
        )


class CivitaiModel(CivitaiPermissions, kw_only=True):
    id: int
    name: str
    type: str
    model_versions: list[CivitaiVersion] = []
    creator: CivitaiCreator | None = None


def commercial_use(value: list[str] | str | None, *, where: str) -> tuple[CivitaiCommercialUse, ...]:
    """The list form as given; the legacy single value expanded along its hierarchy; missing = none."""
    if value is None:
        return ()
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("{") and text.endswith("}"):  # a PostgreSQL array leaked as text
            value = [part.strip() for part in text[1:-1].split(",") if part.strip()]
        else:
            legacy = _LEGACY_COMMERCIAL.get(text.lower())
            if legacy is None:
                raise SourceFormatError(f"{where}: allowCommercialUse {value!r} is not a known value")
            value = [member.value for member in legacy]
    by_name = {member.value.lower(): member for member in CivitaiCommercialUse}
    found: list[CivitaiCommercialUse] = []
    for item in value:
        if item.strip().lower() == "none":
            continue
        member = by_name.get(item.strip().lower())
        if member is None:
            raise SourceFormatError(f"{where}: allowCommercialUse contains unknown value {item!r}")
        if member not in found:
            found.append(member)
    order = list(CivitaiCommercialUse)
    return tuple(sorted(found, key=order.index))


def _creator_permissions(
    permissions: CivitaiPermissions, creator: str | None, *, where: str
) -> dict[str, Any]:
    """Missing booleans count as not granted: creator flags only ever narrow."""
    fields: dict[str, Any] = {
        "allow_no_credit": bool(permissions.allow_no_credit),
        "allow_commercial_use": [
            u.value for u in commercial_use(permissions.allow_commercial_use, where=where)
        ],
        "allow_derivatives": bool(permissions.allow_derivatives),
        "allow_different_license": bool(permissions.allow_different_license),
    }
    if creator:
        fields["creator"] = creator
    return fields


def _base_ids(base_model: str, index: BaseIndex, *, where: str) -> tuple[str, ...]:
    key = re.sub(r"\s+", " ", base_model.strip().lower())
    for candidate in CIVITAI_BASE_MODELS.get(key, ()):
        found = index.find(candidate)
        if found is not None:
            return (found,)
    found = index.find(base_model)
    if found is not None:
        return (found,)
    raise UnknownBaseError(
        f"{where}: baseModel {base_model!r} maps to no catalog artifact; add the base to the catalog "
        "(or its name to CIVITAI_BASE_MODELS)"
    )


def _weight_file(version: CivitaiVersion, *, where: str) -> tuple[int, CivitaiFile]:
    models = [(i, f) for i, f in enumerate(version.files) if (f.type or "Model").lower() == "model"]
    safetensors = [
        (i, f)
        for i, f in models
        if (f.metadata.format or "").lower() == "safetensor" or f.name.lower().endswith(".safetensors")
    ]
    if not safetensors:
        if any(
            (f.metadata.format or "").lower() in _PICKLE_FORMATS
            or f.name.lower().endswith((".ckpt", ".pt", ".pth", ".bin"))
            for _, f in models
        ):
            raise PickleOnlyError(f"{where}: only pickle-format files; Clearance loads SafeTensor files only")
        raise MissingFileError(f"{where}: no SafeTensor model file")
    primary = [(i, f) for i, f in safetensors if f.primary]
    return (primary or safetensors)[0]


def _sha256(file: CivitaiFile, index: int, *, where: str) -> str:
    hashes = {k.lower(): v for k, v in file.hashes.items()}
    value = hashes.get("sha256", "").strip().lower()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise SourceFormatError(
            f"{where}: files[{index}] ({file.name}): hashes.SHA256 missing or not a sha256"
        )
    return value


def _decode(document: Any, type_: type[Any], *, where: str) -> Any:
    try:
        return msgspec.convert(document, type_)
    except msgspec.ValidationError as exc:
        raise SourceFormatError(f"{where}: not a Civitai {type_.__name__} document: {exc}") from exc


def import_civitai_document(
    document: Any,
    catalog: Catalog,
    *,
    origin: str,
    version_id: int | None = None,
    model: Any | None = None,
) -> ImportResult:
    """The entry for one model version. `document` is a model or a model-version JSON; `model`
    (a model JSON) supplies the permission flags a model-version document lacks."""
    if not isinstance(document, dict):
        raise SourceFormatError(f"{origin}: expected a JSON object")
    parent: CivitaiModel | None = None
    if "modelVersions" in document:
        parent = _decode(document, CivitaiModel, where=origin)
        assert parent is not None
        versions = parent.model_versions
        if not versions:
            raise SourceFormatError(f"{origin}: model {parent.id} has no modelVersions")
        if version_id is None:
            version = versions[0]
        else:
            matching = [v for v in versions if v.id == version_id]
            if not matching:
                raise SourceFormatError(f"{origin}: model {parent.id} has no version {version_id}")
            version = matching[0]
    elif "baseModel" in document:
        version = _decode(document, CivitaiVersion, where=origin)
        if model is not None:
            parent = _decode(model, CivitaiModel, where=f"{origin} (parent model)")
    else:
        raise SourceFormatError(
            f"{origin}: neither a Civitai model (modelVersions) nor a model version (baseModel)"
        )

    where = f"{origin}: version {version.id}"
    model_id = parent.id if parent is not None else version.model_id
    if model_id is None:
        raise SourceFormatError(f"{where}: modelId missing")
    model_name = parent.name if parent is not None else (version.model.name if version.model else None)
    model_type = parent.type if parent is not None else (version.model.type if version.model else None)
    kind_text = (model_type or "").lower()
    if kind_text in ADAPTER_TYPES:
        kind, relation = ArtifactKind.ADAPTER, BaseRelation.ADAPTER
    elif kind_text in CHECKPOINT_TYPES:
        kind, relation = ArtifactKind.BASE_MODEL, BaseRelation.FINETUNE
    else:
        raise SourceFormatError(
            f"{where}: model type {model_type!r} is not imported (LORA, LoCon, DoRA, Checkpoint)"
        )

    index = BaseIndex(catalog.artifacts)
    bases = _base_ids(version.base_model, index, where=where)
    file_index, file = _weight_file(version, where=where)
    sha256 = _sha256(file, file_index, where=where)
    licenses = {doc.ref: doc for doc in catalog.licenses}

    license_flags: list[str] = []
    permissions: dict[str, Any] | None = None
    if parent is not None and parent.present:
        creator = parent.creator.username if parent.creator else None
        permissions = _creator_permissions(parent, creator, where=where)
        license_ref = license_from_bases(bases, relation, index.artifacts, licenses)
        license_flags.append(flags.LICENSE_TAKEN_FROM_BASE)
    else:
        license_ref = UNKNOWN_LICENSE
        license_flags.append(flags.CREATOR_PERMISSIONS_MISSING)

    name = f"{model_name} {version.name}" if model_name else version.name
    fields: dict[str, Any] = {
        "id": f"civitai/{model_id}/{version.id}",
        "kind": kind,
        "name": name.strip() or f"civitai {model_id}/{version.id}",
        "license": license_ref,
        "family": next((index.artifacts[b].family for b in bases if index.artifacts[b].family), None),
        "source": {
            "type": "civitai",
            "model_id": model_id,
            "version_id": version.id,
            "files": [{"name": file.name, "sha256": sha256}],
            "download_url": file.download_url or version.download_url,
        },
        "bases": list(bases),
        "base_relation": relation,
        "license_flags": license_flags,
        "creator_permissions": permissions,
        "recommended": {"weight_name": file.name} if kind is ArtifactKind.ADAPTER else None,
        "description": ("trigger words: " + ", ".join(version.trained_words))[:4000]  # its column
        if version.trained_words
        else None,
    }
    existing = index.artifacts.get(fields["id"])
    artifact = validated_artifact(keep_curated_fields(fields, existing), where=where)
    known = {**index.artifacts, artifact.id: artifact}
    return ImportResult(artifact=artifact, origin=origin, license_chain=license_chain(artifact, known))


def _api_url(url: str) -> tuple[str, int | None]:
    """Web page URLs on civitai.com (`/models/<id>?modelVersionId=<v>`) -> the API URL and version."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    version = query.get("modelVersionId", [None])[0]
    version_id = int(version) if version and version.isdigit() else None
    page = re.match(r"^/models/(\d+)", parts.path)
    if parts.hostname in {"civitai.com", "www.civitai.com"} and page:
        return urlunsplit((parts.scheme, parts.netloc, f"/api/v1/models/{page.group(1)}", "", "")), version_id
    return url, version_id


def read_civitai_file(path: Path) -> Any:
    """The JSON document saved from the API."""
    if not path.is_file():
        raise MissingFileError(f"{path}: no such file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except NOT_JSON as exc:
        raise SourceFormatError(f"{path}: not JSON: {exc}") from exc


def import_civitai_file(path: Path, catalog: Catalog, *, version_id: int | None = None) -> ImportResult:
    return import_civitai_document(read_civitai_file(path), catalog, origin=str(path), version_id=version_id)


async def import_civitai_url(
    url: str,
    catalog: Catalog,
    *,
    policy: OutboundPolicy | None = None,
    version_id: int | None = None,
) -> ImportResult:
    """Fetch through the outbound guard with `policy` (default: https to public addresses only; an
    allowlist admits e.g. a loopback test server). A model-version document brings its model's
    permission flags from `/api/v1/models/{modelId}` on the same host."""
    api_url, url_version = _api_url(url)
    document = await fetch_json(api_url, policy=policy)
    model: Any | None = None
    if isinstance(document, dict) and "modelVersions" not in document and document.get("modelId"):
        parts = urlsplit(api_url)
        model_url = urlunsplit((parts.scheme, parts.netloc, f"/api/v1/models/{document['modelId']}", "", ""))
        model = await fetch_json(model_url, policy=policy)
    return import_civitai_document(
        document, catalog, origin=api_url, version_id=version_id or url_version, model=model
    )


async def import_civitai(
    file_or_url: str,
    catalog: Catalog,
    *,
    policy: OutboundPolicy | None = None,
    version_id: int | None = None,
) -> ImportResult:
    """`import civitai FILE_OR_URL`: an http(s) URL is fetched, anything else read as a file."""
    if re.match(r"^https?://", file_or_url):
        return await import_civitai_url(file_or_url, catalog, policy=policy, version_id=version_id)
    return await asyncio.to_thread(import_civitai_file, Path(file_or_url), catalog, version_id=version_id)
