"""`import hf` from local snapshots: real-world cards, the license resolution, and bad input."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import hf_cards
import msgspec
import pytest
from import_fixtures import COMMIT, safetensors_bytes, sha256, write_snapshot

from registry.catalog.entries import UNKNOWN_LICENSE, Artifact, Catalog, HuggingFaceSource
from registry.importers import ImportResult, import_hf
from registry.importers.errors import (
    HashMismatchError,
    MissingFileError,
    ModelCardError,
    PickleOnlyError,
    RevisionError,
    UnknownBaseError,
    WeightsFormatError,
)
from registry.vocabulary import ArtifactKind, BaseRelation

LORA = safetensors_bytes("lora_A")


def _import(
    tmp_path: Path, catalog: Catalog, repo: str, readme: str | None, files: dict[str, bytes], **kw: object
) -> ImportResult:
    directory = write_snapshot(tmp_path, readme, files, **kw)  # type: ignore[arg-type]
    return import_hf(repo, catalog, local_dir=directory)


def _source(result: ImportResult) -> HuggingFaceSource:
    assert isinstance(result.artifact.source, HuggingFaceSource)
    return result.artifact.source


def test_flux2_dev_base_model(tmp_path: Path, catalog: Catalog) -> None:
    files = {
        "flux2-dev.safetensors": safetensors_bytes("a"),
        "ae.safetensors": safetensors_bytes("b"),
        "transformer/diffusion_pytorch_model-00001-of-00002.safetensors": safetensors_bytes("c"),
        "model_index.json": b'{"_class_name": "Flux2Pipeline", "_diffusers_version": "0.36.0"}',
        "LICENSE.md": b"FLUX [dev] Non-Commercial License v2.0",
    }
    result = _import(tmp_path, catalog, "black-forest-labs/FLUX.2-dev", hf_cards.FLUX2_DEV, files)
    artifact = result.artifact
    assert artifact.kind is ArtifactKind.BASE_MODEL
    assert artifact.license == "flux-dev-ncl@2.0"
    assert artifact.declared_license == "flux-dev-non-commercial-license"
    assert artifact.license_flags == ()
    assert artifact.bases == ()
    assert artifact.family == "flux2"
    assert artifact.gated == "gated"
    assert artifact.recommended is not None
    assert (artifact.recommended.steps, artifact.recommended.guidance) == (50, 4.0)
    source = _source(result)
    assert source.revision == COMMIT
    assert {f.name: f.sha256 for f in source.files} == {
        name: sha256(data) for name, data in files.items() if name.endswith(".safetensors")
    }
    assert result.license_chain == ("flux-dev-ncl@2.0",)


def test_flux1_dev_from_hub_cache_layout(tmp_path: Path, catalog: Catalog) -> None:
    files = {"flux1-dev.safetensors": safetensors_bytes()}
    result = _import(
        tmp_path, catalog, "black-forest-labs/FLUX.1-dev", hf_cards.FLUX1_DEV, files, layout="cache"
    )
    assert result.artifact.license == "flux-dev-ncl@1.1.1"
    assert result.artifact.declared_license == "flux-1-dev-non-commercial-license"
    recommended = result.artifact.recommended
    assert recommended is not None
    assert (recommended.steps, recommended.guidance, recommended.width, recommended.height) == (
        50,
        3.5,
        1024,
        1024,
    )
    assert _source(result).revision == COMMIT


def test_turbo_lora_inherits_and_records_its_settings(tmp_path: Path, catalog: Catalog) -> None:
    files = {"flux.2-turbo-lora.safetensors": LORA}
    result = _import(tmp_path, catalog, "fal/FLUX.2-dev-Turbo", hf_cards.FLUX2_TURBO, files)
    artifact = result.artifact
    assert artifact.kind is ArtifactKind.ADAPTER
    assert artifact.bases == ("black-forest-labs/FLUX.2-dev",)
    assert artifact.base_relation is BaseRelation.ADAPTER
    assert artifact.license == "flux-dev-ncl@2.0"
    assert artifact.license_flags == ()
    assert artifact.family == "flux2"
    assert artifact.recommended is not None
    assert artifact.recommended.steps == 8
    assert artifact.recommended.guidance == 2.5
    assert artifact.recommended.sigmas == (1.0, 0.6509, 0.4374, 0.2932, 0.1893, 0.1108, 0.0495, 0.00031)
    assert artifact.recommended.weight_name == "flux.2-turbo-lora.safetensors"
    assert _source(result).files[0].sha256 == sha256(LORA)
    assert result.license_chain == ("flux-dev-ncl@2.0",)


def test_sd35_large_and_sdxl(tmp_path: Path, catalog: Catalog) -> None:
    sd35 = _import(
        tmp_path / "a",
        catalog,
        "stabilityai/stable-diffusion-3.5-large",
        hf_cards.SD35_LARGE,
        {"sd3.5_large.safetensors": safetensors_bytes()},
    )
    assert sd35.artifact.license == "stability-ai-community@2024-07-05"
    assert sd35.artifact.recommended is not None
    assert sd35.artifact.recommended.steps == 28
    sdxl = _import(
        tmp_path / "b",
        catalog,
        "stabilityai/stable-diffusion-xl-base-1.0",
        hf_cards.SDXL_BASE,
        {
            "sd_xl_base_1.0.safetensors": safetensors_bytes(),
            "unet/diffusion_pytorch_model.bin": b"pickle bytes are listed, never pinned",
        },
    )
    assert sdxl.artifact.license == "creativeml-openrail-pp-m@2023-07-26"
    assert sdxl.artifact.declared_license == "openrail++"
    assert [f.name for f in _source(sdxl).files] == ["sd_xl_base_1.0.safetensors"]


def test_apache_tag_on_flux_dev_lora_does_not_widen(tmp_path: Path, catalog: Catalog) -> None:
    result = _import(
        tmp_path,
        catalog,
        "someone/sks-dog-flux-lora",
        hf_cards.NOISY_APACHE_LORA,
        {"sks_dog.safetensors": LORA},
    )
    artifact = result.artifact
    assert artifact.declared_license == "apache-2.0"
    assert artifact.license == "flux-dev-ncl@1.1.1"
    assert artifact.license_flags == ("declared_more_permissive_than_base",)
    assert artifact.bases == ("black-forest-labs/FLUX.1-dev",)
    assert artifact.base_relation is BaseRelation.ADAPTER
    assert artifact.recommended is not None
    assert (artifact.recommended.steps, artifact.recommended.guidance) == (28, 3.5)
    assert artifact.recommended.weight_name == "sks_dog.safetensors"
    assert result.license_chain == ("flux-dev-ncl@1.1.1",)


def test_noisy_alias_and_link_resolve_to_the_same_license(tmp_path: Path, catalog: Catalog) -> None:
    result = _import(tmp_path, catalog, "someone/alias-lora", hf_cards.ALIAS_LORA, {"lora.safetensors": LORA})
    assert result.artifact.license == "flux-dev-ncl@1.1.1"
    assert result.artifact.declared_license == "license-flux1-dev"
    assert result.artifact.license_flags == ()


def test_merge_of_two_bases_takes_the_narrower_binding_license(tmp_path: Path, catalog: Catalog) -> None:
    result = _import(
        tmp_path,
        catalog,
        "someone/sdxl-turbo-merge",
        hf_cards.MERGE_TWO_BASES,
        {"merged.safetensors": safetensors_bytes()},
    )
    artifact = result.artifact
    assert artifact.kind is ArtifactKind.BASE_MODEL
    assert artifact.bases == ("stabilityai/stable-diffusion-xl-base-1.0", "stabilityai/sdxl-turbo")
    assert artifact.base_relation is BaseRelation.MERGE
    assert artifact.declared_license == "openrail++"
    assert artifact.license == "stability-ai-nc-research@2023-11-28"
    assert artifact.license_flags == ("declared_more_permissive_than_base",)
    assert set(result.license_chain) == {
        "stability-ai-nc-research@2023-11-28",
        "creativeml-openrail-pp-m@2023-07-26",
    }


def test_missing_and_unrecognised_licenses_are_unknown(tmp_path: Path, catalog: Catalog) -> None:
    missing = _import(
        tmp_path / "a", catalog, "someone/no-license", hf_cards.MISSING_LICENSE_LORA, {"l.safetensors": LORA}
    )
    assert missing.artifact.license == UNKNOWN_LICENSE
    assert missing.artifact.declared_license is None
    assert missing.artifact.license_flags == ("license_missing",)
    assert missing.license_chain == (UNKNOWN_LICENSE, "apache@2.0")
    odd = _import(
        tmp_path / "b", catalog, "someone/odd-license", hf_cards.UNRECOGNISED_LICENSE, {"l.safetensors": LORA}
    )
    assert odd.artifact.license == UNKNOWN_LICENSE
    assert odd.artifact.declared_license == "my-very-own-license"
    assert odd.artifact.license_flags == ("declared_license_unrecognised",)


def test_explicit_revision_pins_a_plain_directory(tmp_path: Path, catalog: Catalog) -> None:
    directory = write_snapshot(
        tmp_path, hf_cards.SDXL_BASE, {"m.safetensors": safetensors_bytes()}, layout="plain"
    )
    revision = "f" * 40
    result = import_hf(f"stabilityai/some-sdxl@{revision}", catalog, local_dir=directory)
    assert _source(result).revision == revision


_DEEP_JSON = b"[" * 100_000 + b"]" * 100_000
_DEEP_CARD = "---\nlicense: " + "[" * 5_000 + "]" * 5_000 + "\n---\nA card.\n"


@pytest.mark.parametrize(
    ("readme", "files", "error", "message"),
    [
        (hf_cards.MALFORMED_YAML, {"l.safetensors": LORA}, ModelCardError, "README.md: malformed YAML"),
        (None, {"l.safetensors": LORA}, MissingFileError, "README.md: missing"),
        (
            hf_cards.FLUX2_DEV,
            {"pytorch_lora_weights.bin": b"x", "model.ckpt": b"x"},
            PickleOnlyError,
            "pickle",
        ),
        (hf_cards.FLUX2_DEV, {"config.json": b"{}"}, MissingFileError, "no .safetensors"),
        (hf_cards.UNKNOWN_BASE, {"l.safetensors": LORA}, UnknownBaseError, "'someone/not-in-the-catalog'"),
        (hf_cards.BAD_RELATION, {"l.safetensors": LORA}, ModelCardError, "base_model_relation 'sidegrade'"),
        (
            hf_cards.FLUX2_DEV,
            {"l.safetensors": b"not a safetensors file"},
            WeightsFormatError,
            "l.safetensors",
        ),
        # Documents nested past the decoder's recursion: a precise error, not a RecursionError.
        (_DEEP_CARD, {"l.safetensors": LORA}, ModelCardError, "README.md: front matter nests too deeply"),
        (
            hf_cards.FLUX2_DEV,
            {"l.safetensors": struct.pack("<Q", len(_DEEP_JSON)) + _DEEP_JSON},
            WeightsFormatError,
            "l.safetensors: safetensors header is not JSON",
        ),
        (
            hf_cards.FLUX2_DEV,
            {"model_index.json": _DEEP_JSON, "m.safetensors": safetensors_bytes()},
            WeightsFormatError,
            "model_index.json: not JSON",
        ),
    ],
)
def test_bad_input_is_a_precise_error(
    tmp_path: Path,
    catalog: Catalog,
    readme: str | None,
    files: dict[str, bytes],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message.replace("(", r"\(").replace(".", r"\.")):
        _import(tmp_path, catalog, "someone/bad", readme, files)


def test_hash_mismatch_names_the_file(tmp_path: Path, catalog: Catalog) -> None:
    recorded = {"l.safetensors": "a" * 64}
    with pytest.raises(
        HashMismatchError, match=r"l\.safetensors: sha256 is [0-9a-f]{64}, but the snapshot recorded a{64}"
    ):
        _import(
            tmp_path,
            catalog,
            "someone/corrupt",
            hf_cards.FLUX2_TURBO,
            {"l.safetensors": LORA},
            recorded=recorded,
        )


def test_hash_mismatch_in_hub_cache_layout(tmp_path: Path, catalog: Catalog) -> None:
    with pytest.raises(HashMismatchError):
        _import(
            tmp_path,
            catalog,
            "someone/corrupt",
            hf_cards.FLUX2_TURBO,
            {"l.safetensors": LORA},
            layout="cache",
            recorded={"l.safetensors": "b" * 64},
        )


@pytest.mark.parametrize(
    ("repo", "layout", "message"),
    [
        ("someone/x", "plain", "no revision recorded"),
        ("someone/x@main", "plain", "only a 40-hex commit sha"),
        (f"someone/x@{'e' * 40}", "local_dir", f"requested revision {'e' * 40} but"),
    ],
)
def test_revision_must_be_pinnable(
    tmp_path: Path, catalog: Catalog, repo: str, layout: str, message: str
) -> None:
    directory = write_snapshot(
        tmp_path, hf_cards.SDXL_BASE, {"m.safetensors": safetensors_bytes()}, layout=layout
    )
    with pytest.raises(RevisionError, match=message):
        import_hf(repo, catalog, local_dir=directory)


def test_missing_directory(tmp_path: Path, catalog: Catalog) -> None:
    with pytest.raises(MissingFileError, match="does not exist"):
        import_hf("someone/x", catalog, local_dir=tmp_path / "nowhere")


def test_reimport_keeps_what_only_the_catalog_knows(tmp_path: Path, catalog: Catalog) -> None:
    curated = msgspec.convert(
        {
            "id": "fal/FLUX.2-dev-Turbo",
            "kind": "adapter",
            "name": "FLUX.2 [dev] Turbo (curated)",
            "license": "flux-dev-ncl@2.0",
            "bases": ["black-forest-labs/FLUX.2-dev"],
            "always_on": True,
            "description": "fused at load",
            "recommended": {"steps": 8, "max_width": 2048},
        },
        Artifact,
    )
    held = tuple(a for a in catalog.artifacts if a.id != curated.id)
    with_curated = msgspec.structs.replace(catalog, artifacts=(*held, curated))
    result = _import(
        tmp_path, with_curated, "fal/FLUX.2-dev-Turbo", hf_cards.FLUX2_TURBO, {"t.safetensors": LORA}
    )
    artifact = result.artifact
    assert (artifact.name, artifact.always_on, artifact.description) == (
        "FLUX.2 [dev] Turbo (curated)",
        True,
        "fused at load",
    )
    assert artifact.recommended is not None
    assert (artifact.recommended.max_width, artifact.recommended.guidance) == (2048, 2.5)
    assert isinstance(artifact.source, HuggingFaceSource)
    assert artifact.source.revision == COMMIT


def _git_blob_id(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


@pytest.mark.parametrize("layout", ["local_dir", "cache"])
def test_small_files_outside_lfs_are_checked_by_git_blob_id(
    tmp_path: Path, catalog: Catalog, layout: str
) -> None:
    good = _import(
        tmp_path / "good",
        catalog,
        "someone/small",
        hf_cards.FLUX2_TURBO,
        {"l.safetensors": LORA},
        layout=layout,
        recorded={"l.safetensors": _git_blob_id(LORA)},
    )
    assert isinstance(good.artifact.source, HuggingFaceSource)
    assert good.artifact.source.files[0].sha256 == sha256(LORA)
    with pytest.raises(HashMismatchError, match="git blob id is"):
        _import(
            tmp_path / "bad",
            catalog,
            "someone/small",
            hf_cards.FLUX2_TURBO,
            {"l.safetensors": LORA},
            layout=layout,
            recorded={"l.safetensors": "d" * 40},
        )


def test_card_that_is_not_utf8(tmp_path: Path, catalog: Catalog) -> None:
    directory = write_snapshot(
        tmp_path, None, {"README.md": b"---\nlicense: mit\n---\n\xff\xfe", "l.safetensors": LORA}
    )
    with pytest.raises(ModelCardError, match=r"README\.md: not UTF-8"):
        import_hf("someone/latin1", catalog, local_dir=directory)


def test_adapter_without_base_model_needs_its_base_given(tmp_path: Path, catalog: Catalog) -> None:
    directory = write_snapshot(tmp_path, hf_cards.BASELESS_LORA, {"style.safetensors": LORA})
    with pytest.raises(
        UnknownBaseError, match=r"looks like an adapter \(tags lora\) but declares no base_model"
    ):
        import_hf("someone/baseless", catalog, local_dir=directory)
    given = import_hf(
        "someone/baseless", catalog, local_dir=directory, bases=["black-forest-labs/flux.1-dev"]
    )
    artifact = given.artifact
    assert artifact.bases == ("black-forest-labs/FLUX.1-dev",)
    assert artifact.kind is ArtifactKind.ADAPTER
    assert artifact.license == "flux-dev-ncl@1.1.1"
    assert artifact.license_flags == ("declared_more_permissive_than_base", "bases_given_by_operator")
