"""The alias table: noisy declared names and links to the built-in catalog's license references."""

from __future__ import annotations

import pytest

from registry.catalog.builtin import load_builtin_catalog
from registry.catalog.entries import UNKNOWN_LICENSE
from registry.importers.aliases import BUILTIN_ALIASES, LicenseAliasTable, normalise_license_name
from registry.importers.declared import DeclaredLicense
from registry.importers.inheritance import is_more_permissive


@pytest.fixture(scope="module")
def table() -> LicenseAliasTable:
    return LicenseAliasTable.from_catalog(load_builtin_catalog())


@pytest.mark.parametrize(
    ("name", "ref"),
    [
        ("flux-1-dev-non-commercial-license", "flux-dev-ncl@1.1.1"),
        ("license-flux1-dev", "flux-dev-ncl@1.1.1"),
        ("FLUX.1 [dev] Non-Commercial License", "flux-dev-ncl@1.1.1"),
        ("flux_1_dev_non_commercial_license", "flux-dev-ncl@1.1.1"),
        ("flux-dev-non-commercial-license", "flux-dev-ncl@2.0"),
        ("flux-dev", "flux-dev-ncl@2.0"),
        ("stabilityai-ai-community", "stability-ai-community@2024-07-05"),
        ("sai-nc-community", "stability-ai-nc-research@2023-11-28"),
        ("openrail++", "creativeml-openrail-pp-m@2023-07-26"),
        ("creativeml-openrail-m", "creativeml-openrail-m@2022-08-22"),
        ("tencent-hunyuan-community", "tencent-hunyuan-community@hunyuanimage-2.1"),
        ("playground-v2dot5-community", "playground-community@2.5"),
        ("nvidia-license", "nvidia-license@sana"),
        ("Apache-2.0", "apache@2.0"),
        ("Apache License 2.0", "apache@2.0"),
        ("MIT", "mit@1"),
        ("llama3.1", "llama-community@3.1"),
        ("LicenseRef-FLUX-dev-Non-Commercial-2.0", "flux-dev-ncl@2.0"),
        ("flux-dev-ncl@2.0", "flux-dev-ncl@2.0"),
    ],
)
def test_noisy_names_resolve(table: LicenseAliasTable, name: str, ref: str) -> None:
    assert table.resolve_name(name) == ref


@pytest.mark.parametrize("name", ["other", "unknown", "", "cc-by-nc-4.0", "bfl-api-terms", "openrail"])
def test_what_is_not_a_known_weight_license_stays_unresolved(table: LicenseAliasTable, name: str) -> None:
    assert table.resolve_name(name) is None


def test_every_builtin_alias_maps_onto_a_catalog_license(table: LicenseAliasTable) -> None:
    unmapped = [name for name in BUILTIN_ALIASES if table.resolve_name(name) is None]
    assert unmapped == []


def test_normalisation_keeps_plus_signs() -> None:
    assert normalise_license_name(" OpenRAIL++ ") == "openrail++"
    assert normalise_license_name("FLUX.1 [dev]") == normalise_license_name("flux-1-dev")


def test_precedence_license_name_then_license_then_link_then_tag(table: LicenseAliasTable) -> None:
    both = DeclaredLicense(license="apache-2.0", license_name="flux-1-dev-non-commercial-license")
    assert table.resolve(both).ref == "flux-dev-ncl@1.1.1"
    assert table.resolve(both).matched == "license_name"
    link = DeclaredLicense(
        license="other",
        license_link="https://huggingface.co/black-forest-labs/FLUX.2-dev/blob/main/LICENSE.md",
    )
    assert table.resolve(link).ref == "flux-dev-ncl@2.0"
    assert table.resolve(DeclaredLicense(tag_license="mit")).ref == "mit@1"
    missing = table.resolve(DeclaredLicense())
    assert (missing.ref, missing.declared) == (UNKNOWN_LICENSE, None)


def test_permissiveness_compares_grants(table: LicenseAliasTable) -> None:
    apache, flux = table.document("apache@2.0"), table.document("flux-dev-ncl@2.0")
    assert apache is not None
    assert flux is not None
    assert is_more_permissive(apache.terms, flux.terms)
    assert not is_more_permissive(flux.terms, apache.terms)
