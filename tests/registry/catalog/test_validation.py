"""Each kind of catalog error, named precisely by file, entry and field."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import msgspec
import pytest

from registry.catalog.entries import (
    Agreement,
    AgreementCoverage,
    Artifact,
    Catalog,
    Runner,
    Tenant,
)
from registry.catalog.errors import CatalogError, CatalogIssue
from registry.catalog.files import SourcedCatalog, merge_catalogs, parse_catalog, read_catalog_files
from registry.catalog.validation import check_catalog, validate_catalog
from registry.vocabulary import ArtifactKind, HostKind, Purpose, RunnerKind

FIXTURES = Path(__file__).parent / "fixtures"
MODELS = str(FIXTURES / "models.yaml")
LICENSES = str(FIXTURES / "licenses.yaml")


def _with(sourced: SourcedCatalog, extra: Catalog, file: str = "extra.yaml") -> SourcedCatalog:
    return merge_catalogs([(LICENSES, _part(sourced, "licenses")), (MODELS, _rest(sourced)), (file, extra)])


def _part(sourced: SourcedCatalog, section: str) -> Catalog:
    return Catalog(**{section: getattr(sourced.catalog, section)})


def _rest(sourced: SourcedCatalog) -> Catalog:
    return msgspec.structs.replace(sourced.catalog, licenses=())


def _one(issues: list[CatalogIssue]) -> CatalogIssue:
    assert len(issues) == 1, issues
    return issues[0]


def _lora(**changes: object) -> Artifact:
    lora = Artifact(
        id="me/lora",
        kind=ArtifactKind.ADAPTER,
        name="My LoRA",
        license="flux-dev-ncl@2.0",
        bases=("black-forest-labs/FLUX.2-dev",),
    )
    return msgspec.structs.replace(lora, **changes)


def test_the_fixture_catalog_is_valid(fixture_catalog: SourcedCatalog) -> None:
    assert check_catalog(fixture_catalog) == []


def test_unknown_license(fixture_catalog: SourcedCatalog) -> None:
    issues = check_catalog(_with(fixture_catalog, Catalog(artifacts=(_lora(license="nope@1"),))))
    assert _one(issues) == CatalogIssue(
        file="extra.yaml", entry="artifacts me/lora", field="license", message="unknown license 'nope@1'"
    )


def test_adapter_whose_base_does_not_exist(fixture_catalog: SourcedCatalog) -> None:
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(artifacts=(_lora(bases=("ghost/base",)),)))))
    assert (issue.file, issue.entry, issue.field) == ("extra.yaml", "artifacts me/lora", "bases[0]")
    assert issue.message == "unknown base model 'ghost/base'"


def test_adapter_without_base(fixture_catalog: SourcedCatalog) -> None:
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(artifacts=(_lora(bases=()),)))))
    assert (issue.entry, issue.field) == ("artifacts me/lora", "bases")


def test_cycle_in_base_models(fixture_catalog: SourcedCatalog) -> None:
    a = _lora(id="me/a", bases=("me/b",))
    b = _lora(id="me/b", bases=("me/c",))
    c = _lora(id="me/c", bases=("me/a",))
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(artifacts=(a, b, c)))))
    assert (issue.file, issue.entry, issue.field) == ("extra.yaml", "artifacts me/a", "bases")
    assert issue.message == "cycle in base models: me/a -> me/b -> me/c -> me/a"


def test_artifact_that_is_its_own_base(fixture_catalog: SourcedCatalog) -> None:
    issues = check_catalog(_with(fixture_catalog, Catalog(artifacts=(_lora(bases=("me/lora",)),))))
    assert (issues[0].field, issues[0].message) == ("bases[0]", "'me/lora' cannot be its own base")


def test_unknown_purpose_names_file_entry_and_field(tmp_path: Path) -> None:
    path = tmp_path / "agreements.yaml"
    path.write_text(
        "agreements:\n"
        "  - id: acme-bfl\n"
        "    holder: acme\n"
        "    licensor: BFL\n"
        "    covers: {license_families: [flux-dev]}\n"
        "    purposes: [commercial_product, world_domination]\n"
        "    valid_from: 2026-01-01\n"
    )
    with pytest.raises(CatalogError) as error:
        read_catalog_files([path])
    issue = _one(error.value.issues)
    assert (issue.file, issue.entry, issue.field) == (str(path), "agreements acme-bfl", "purposes[1]")
    assert issue.message == "Invalid enum value 'world_domination'"
    assert str(issue) == (
        f"{path}: agreements acme-bfl, field purposes[1]: Invalid enum value 'world_domination'"
    )


def test_negative_price_in_a_file() -> None:
    text = (
        "runners:\n"
        "  - {id: r1, kind: local_diffusers, host: operator, artifacts: [a], price_per_image_usd: -0.5}\n"
    )
    with pytest.raises(CatalogError) as error:
        parse_catalog(text, file="runners.yaml")
    issue = _one(error.value.issues)
    assert (issue.file, issue.entry, issue.field) == ("runners.yaml", "runners r1", "price_per_image_usd")
    assert ">= 0.0" in issue.message


def test_negative_price_built_in_python(fixture_catalog: SourcedCatalog) -> None:
    runner = Runner(
        id="cheap",
        kind=RunnerKind.LOCAL_DIFFUSERS,
        host=HostKind.OPERATOR,
        artifacts=("black-forest-labs/FLUX.2-dev",),
        price_per_megapixel_usd=-1.0,
    )
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(runners=(runner,)))))
    assert (issue.entry, issue.field) == ("runners cheap", "price_per_megapixel_usd")


def test_duplicate_id_names_both_places(fixture_catalog: SourcedCatalog) -> None:
    again = fixture_catalog.catalog.artifacts[0]
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(artifacts=(again,)))))
    assert (issue.file, issue.entry) == ("extra.yaml", f"artifacts {again.id}")
    assert issue.message == f"duplicate id {again.id!r}, already defined in {MODELS} (artifacts[0])"


def test_duplicate_license_version(fixture_catalog: SourcedCatalog) -> None:
    again = fixture_catalog.catalog.licenses[1]
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(licenses=(again,)))))
    assert issue.entry == "licenses apache@2.0"
    assert issue.message.startswith("duplicate id 'apache@2.0'")


def _agreement(**changes: object) -> Agreement:
    agreement = Agreement(
        id="deal",
        holder="acme",
        licensor="BFL",
        covers=AgreementCoverage(license_families=("flux-dev",)),
        purposes=(Purpose.COMMERCIAL_PRODUCT,),
        valid_from=dt.date(2026, 1, 1),
    )
    return msgspec.structs.replace(agreement, **changes)


def test_agreement_holder_that_is_no_tenant(fixture_catalog: SourcedCatalog) -> None:
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(agreements=(_agreement(holder="nobody"),)))))
    assert (issue.entry, issue.field) == ("agreements deal", "holder")
    assert issue.message == "holder 'nobody' is no tenant (nor 'operator')"


def test_agreement_checks(fixture_catalog: SourcedCatalog) -> None:
    bad = _agreement(
        covers=AgreementCoverage(license_families=("nope",), artifacts=("ghost",)),
        valid_until=dt.date(2025, 1, 1),
        monthly_quota=-1,
    )
    issues = check_catalog(_with(fixture_catalog, Catalog(agreements=(bad,))))
    assert {i.field for i in issues} == {
        "monthly_quota",
        "covers.license_families[0]",
        "covers.artifacts[0]",
        "valid_until",
    }


def test_runner_serving_an_unknown_artifact(fixture_catalog: SourcedCatalog) -> None:
    runner = Runner(id="r", kind=RunnerKind.LOCAL_DIFFUSERS, host=HostKind.OPERATOR, artifacts=("ghost",))
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(runners=(runner,)))))
    assert (issue.entry, issue.field, issue.message) == (
        "runners r",
        "artifacts[0]",
        "unknown artifact 'ghost'",
    )


def test_runner_service_terms_must_be_service_terms(fixture_catalog: SourcedCatalog) -> None:
    runner = Runner(
        id="r",
        kind=RunnerKind.FAL_QUEUE,
        host=HostKind.PROVIDER,
        provider="fal",
        artifacts=("fal/FLUX.2-dev-Turbo",),
        service_terms="apache@2.0",
    )
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(runners=(runner,)))))
    assert (issue.field, issue.message) == (
        "service_terms",
        "license 'apache@2.0' is not a provider's service terms (service_terms: false)",
    )
    unknown = msgspec.structs.replace(runner, service_terms="gone@1")
    assert _one(check_catalog(_with(fixture_catalog, Catalog(runners=(unknown,))))).message == (
        "unknown license 'gone@1'"
    )


def test_provider_runner_names_its_provider(fixture_catalog: SourcedCatalog) -> None:
    runner = Runner(
        id="r", kind=RunnerKind.FAL_QUEUE, host=HostKind.PROVIDER, artifacts=("fal/FLUX.2-dev-Turbo",)
    )
    assert _one(check_catalog(_with(fixture_catalog, Catalog(runners=(runner,))))).field == "provider"


def test_tenant_may_not_be_called_operator(fixture_catalog: SourcedCatalog) -> None:
    issue = _one(check_catalog(_with(fixture_catalog, Catalog(tenants=(Tenant(id="operator", name="X"),)))))
    assert (issue.entry, issue.field) == ("tenants operator", "id")


def test_operator_defined_twice() -> None:
    with pytest.raises(CatalogError, match=r"the operator is defined in several files: a\.yaml, b\.yaml"):
        merge_catalogs(
            [
                ("a.yaml", parse_catalog("operator: {}", file="a.yaml")),
                ("b.yaml", parse_catalog("operator: {name: B}", file="b.yaml")),
            ]
        )


def test_references_resolve_against_an_existing_catalog(fixture_catalog: SourcedCatalog) -> None:
    validate_catalog(Catalog(artifacts=(_lora(),)), existing=fixture_catalog.catalog)
    with pytest.raises(CatalogError, match="artifacts me/lora, field license: unknown license"):
        validate_catalog(Catalog(artifacts=(_lora(),)))


def test_all_problems_are_reported_together(fixture_catalog: SourcedCatalog) -> None:
    catalog = Catalog(artifacts=(_lora(license="x@1", bases=("ghost",)),))
    issues = check_catalog(catalog)
    assert [(i.file, i.field) for i in issues] == [(None, "license"), (None, "bases[0]")]
    assert (
        str(CatalogError(issues)).splitlines()[0] == "artifacts me/lora, field license: unknown license 'x@1'"
    )


def test_yaml_syntax_error_and_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"broken\.yaml: file: not valid YAML"):
        parse_catalog("licenses: [\n", file="broken.yaml")
    with pytest.raises(CatalogError, match="cannot be read"):
        read_catalog_files([tmp_path / "missing.yaml"])


def test_unknown_field_is_rejected() -> None:
    with pytest.raises(CatalogError) as error:
        parse_catalog("tenants:\n  - {id: t, name: T, revenue: 5}\n", file="t.yaml")
    issue = _one(error.value.issues)
    assert (issue.entry, issue.message) == ("tenants t", "Object contains unknown field `revenue`")


def test_license_with_a_purpose_granted_twice() -> None:
    text = (
        "licenses:\n  - key: k\n    version: '1'\n    title: T\n    licensor: L\n    family: f\n"
        "    terms: {grants: [{purpose: personal, status: allowed, clause: '1'},"
        " {purpose: personal, status: denied, clause: '2'}]}\n"
    )
    with pytest.raises(CatalogError) as error:
        parse_catalog(text, file="l.yaml")
    issue = _one(error.value.issues)
    assert (issue.entry, issue.field) == ("licenses k@1", "terms")
    assert issue.message == "purpose 'personal' is granted twice"


def test_an_empty_file_is_an_empty_catalog() -> None:
    assert parse_catalog("\n", file="empty.yaml") == Catalog()


def test_changed_terms_of_a_used_license_version(fixture_catalog: SourcedCatalog) -> None:
    ncl = fixture_catalog.catalog.licenses[0]
    looser = msgspec.structs.replace(ncl, terms=msgspec.structs.replace(ncl.terms, use_restrictions=()))
    issue = _one(check_catalog(Catalog(licenses=(looser,)), existing=fixture_catalog.catalog))
    assert (issue.entry, issue.field) == ("licenses flux-dev-ncl@2.0", "terms")
    assert (
        "which artifact black-forest-labs/FLUX.2-dev, artifact fal/FLUX.2-dev-Turbo already use"
        in issue.message
    )
    assert issue.message.endswith("create a new version")
    unused = Catalog(licenses=(looser,), artifacts=(), runners=())
    assert check_catalog(unused, existing=Catalog(licenses=(ncl,))) == []


def test_impossible_date_is_a_precise_error_not_a_traceback() -> None:
    text = (
        "agreements:\n  - {id: a, holder: operator, licensor: BFL, covers: {}, purposes: [research],"
        " valid_from: 2026-13-01}\n"
    )
    with pytest.raises(CatalogError, match=r"dates\.yaml: file: not valid YAML"):
        parse_catalog(text, file="dates.yaml")


def test_the_operator_keeps_its_reserved_id() -> None:
    with pytest.raises(CatalogError) as error:
        validate_catalog(parse_catalog("operator: {id: operator2, name: Other}\n", file="op.yaml"))
    issue = _one(error.value.issues)
    assert (issue.entry, issue.field) == ("operator", "id")
    assert "always 'operator'" in issue.message
