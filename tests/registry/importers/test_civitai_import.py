"""`import civitai`: both API shapes, creator permissions, base mapping, pinned hash, bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import civitai_documents as docs
import pytest

from registry.catalog.entries import UNKNOWN_LICENSE, Catalog, CivitaiSource
from registry.importers import import_civitai, import_civitai_document
from registry.importers.civitai import commercial_use
from registry.importers.errors import (
    MissingFileError,
    PickleOnlyError,
    SourceFormatError,
    UnknownBaseError,
)
from registry.vocabulary import ArtifactKind, BaseRelation, CivitaiCommercialUse

IMAGE, RENT, RENT_CIVIT, SELL = (
    CivitaiCommercialUse.IMAGE,
    CivitaiCommercialUse.RENT,
    CivitaiCommercialUse.RENT_CIVIT,
    CivitaiCommercialUse.SELL,
)


def _write(tmp_path: Path, document: Any) -> str:
    path = tmp_path / "civitai.json"
    path.write_text(json.dumps(document))
    return str(path)


async def test_list_form_sdxl_lora(tmp_path: Path, catalog: Catalog) -> None:
    result = await import_civitai(_write(tmp_path, docs.model()), catalog)
    artifact = result.artifact
    assert artifact.id == "civitai/120096/135931"
    assert artifact.name == "Pixel Art XL v1.1"
    assert artifact.kind is ArtifactKind.ADAPTER
    assert artifact.base_relation is BaseRelation.ADAPTER
    assert artifact.bases == ("stabilityai/stable-diffusion-xl-base-1.0",)
    assert artifact.family == "sdxl"
    assert artifact.license == "creativeml-openrail-pp-m@2023-07-26"
    assert artifact.license_flags == ("license_taken_from_base",)
    permissions = artifact.creator_permissions
    assert permissions is not None
    assert permissions.allow_commercial_use == (IMAGE, RENT_CIVIT)
    assert permissions.allow_no_credit is True
    assert permissions.allow_derivatives is True
    assert permissions.allow_different_license is False
    assert permissions.creator == "nerijs"
    source = artifact.source
    assert isinstance(source, CivitaiSource)
    assert (source.model_id, source.version_id) == (120096, 135931)
    assert source.files[0].name == "pixel-art-xl-v1.1.safetensors"
    assert source.files[0].sha256 == docs.SHA_UPPER.lower()
    assert artifact.recommended is not None
    assert artifact.recommended.weight_name == "pixel-art-xl-v1.1.safetensors"
    assert artifact.description == "trigger words: pixel art"


@pytest.mark.parametrize(
    ("legacy", "expected"),
    [
        ("None", ()),
        ("Image", (IMAGE,)),
        ("RentCivit", (IMAGE, RENT_CIVIT)),
        ("Rent", (IMAGE, RENT, RENT_CIVIT)),
        ("Sell", (IMAGE, RENT, RENT_CIVIT, SELL)),
    ],
)
def test_legacy_single_value_is_hierarchical(
    catalog: Catalog, legacy: str, expected: tuple[CivitaiCommercialUse, ...]
) -> None:
    assert commercial_use(legacy, where="x") == expected
    result = import_civitai_document(docs.model(commercial=legacy), catalog, origin="legacy.json")
    assert result.artifact.creator_permissions is not None
    assert result.artifact.creator_permissions.allow_commercial_use == expected


def test_list_form_is_taken_as_given() -> None:
    assert commercial_use(["Sell"], where="x") == (SELL,)
    assert commercial_use([], where="x") == ()
    assert commercial_use("{Image,Rent}", where="x") == (IMAGE, RENT)


@pytest.mark.parametrize(
    ("base_model", "base_id", "license_ref"),
    [
        ("Flux.1 D", "black-forest-labs/FLUX.1-dev", "flux-dev-ncl@1.1.1"),
        ("Flux.1 S", "black-forest-labs/FLUX.1-schnell", "apache@2.0"),
        ("SD 1.5", "stable-diffusion-v1-5/stable-diffusion-v1-5", "creativeml-openrail-m@2022-08-22"),
        ("SD 3.5 Large", "stabilityai/stable-diffusion-3.5-large", "stability-ai-community@2024-07-05"),
        ("SDXL Turbo", "stabilityai/sdxl-turbo", "stability-ai-nc-research@2023-11-28"),
    ],
)
def test_base_model_strings_map_to_catalog_bases(
    catalog: Catalog, base_model: str, base_id: str, license_ref: str
) -> None:
    result = import_civitai_document(docs.model(base_model=base_model), catalog, origin="m.json")
    assert result.artifact.bases == (base_id,)
    assert result.artifact.license == license_ref


def test_checkpoint_and_version_selection(catalog: Catalog) -> None:
    document = docs.with_versions(
        docs.model(model_type="Checkpoint"),
        docs.version(2, "SDXL 1.0", [docs.file("new.safetensors")], name="v2"),
        docs.version(1, "SD 1.5", [docs.file("old.safetensors")], name="v1"),
    )
    newest = import_civitai_document(document, catalog, origin="m.json")
    assert newest.artifact.id == "civitai/120096/2"
    assert newest.artifact.kind is ArtifactKind.BASE_MODEL
    assert newest.artifact.base_relation is BaseRelation.FINETUNE
    assert newest.artifact.recommended is None
    older = import_civitai_document(document, catalog, origin="m.json", version_id=1)
    assert older.artifact.bases == ("stable-diffusion-v1-5/stable-diffusion-v1-5",)
    with pytest.raises(SourceFormatError, match="has no version 3"):
        import_civitai_document(document, catalog, origin="m.json", version_id=3)


def test_safetensors_file_is_chosen_over_pickle(catalog: Catalog) -> None:
    document = docs.with_versions(
        docs.model(),
        docs.version(
            7,
            "SDXL 1.0",
            [
                docs.file("style.ckpt", fmt="PickleTensor", primary=True),
                docs.file("style.safetensors", primary=False),
            ],
        ),
    )
    source = import_civitai_document(document, catalog, origin="m.json").artifact.source
    assert isinstance(source, CivitaiSource)
    assert source.files[0].name == "style.safetensors"


async def test_model_version_file_without_permissions_is_unknown(tmp_path: Path, catalog: Catalog) -> None:
    result = await import_civitai(_write(tmp_path, docs.model_version()), catalog)
    assert result.artifact.id == "civitai/120096/135931"
    assert result.artifact.bases == ("black-forest-labs/FLUX.1-dev",)
    assert result.artifact.license == UNKNOWN_LICENSE
    assert result.artifact.license_flags == ("creator_permissions_missing",)
    assert result.artifact.creator_permissions is None
    assert result.license_chain == (UNKNOWN_LICENSE, "flux-dev-ncl@1.1.1")


@pytest.mark.parametrize(
    ("document", "error", "message"),
    [
        (
            docs.with_versions(
                docs.model(), docs.version(5, "SDXL 1.0", [docs.file("a.ckpt", fmt="PickleTensor")])
            ),
            PickleOnlyError,
            "only pickle-format files",
        ),
        (docs.model(base_model="Other"), UnknownBaseError, "baseModel 'Other'"),
        (
            docs.with_versions(
                docs.model(), docs.version(5, "SDXL 1.0", [docs.file("a.safetensors", sha=None)])
            ),
            SourceFormatError,
            r"files\[0\] \(a\.safetensors\): hashes\.SHA256 missing",
        ),
        (docs.model(commercial="Lease"), SourceFormatError, "allowCommercialUse 'Lease'"),
        (docs.model(commercial=("Image", "Lease")), SourceFormatError, "unknown value 'Lease'"),
        (docs.model(model_type="TextualInversion"), SourceFormatError, "model type 'TextualInversion'"),
        (docs.with_versions(docs.model()), SourceFormatError, "has no modelVersions"),
        ({"id": 1, "name": "x"}, SourceFormatError, "neither a Civitai model"),
        ({**docs.model(), "modelVersions": "nope"}, SourceFormatError, "modelVersions"),
    ],
)
def test_bad_documents(catalog: Catalog, document: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        import_civitai_document(document, catalog, origin="bad.json")


async def test_bad_files(tmp_path: Path, catalog: Catalog) -> None:
    with pytest.raises(MissingFileError, match="no such file"):
        await import_civitai(str(tmp_path / "absent.json"), catalog)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(SourceFormatError, match=r"broken\.json: not JSON"):
        await import_civitai(str(broken), catalog)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)  # nested past the decoder's recursion
    with pytest.raises(SourceFormatError, match=r"deep\.json: not JSON: maximum recursion depth"):
        await import_civitai(str(deep), catalog)
