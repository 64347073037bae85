"""The built-in catalog (registry/builtin/*.yaml) says what the real licenses say.

These are the facts a compliance reviewer checks first: which clause forbids commercial use of
FLUX.2 [dev], that the Turbo LoRA sits on FLUX.2 [dev], the Stability revenue cap, the Hunyuan
territory. A last group runs the real policy engine over the built-in catalog, so an encoding that
decodes but decides wrongly fails here.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from registry.catalog.builtin import BUILTIN_DIR, builtin_catalog_paths, load_builtin_catalog
from registry.catalog.entries import (
    UNKNOWN_LICENSE,
    Artifact,
    Catalog,
    HuggingFaceSource,
    LicenseDocument,
    Operator,
    ProviderSource,
    Tenant,
    TenantProfile,
)
from registry.catalog.validation import check_catalog
from registry.importers.aliases import LicenseAliasTable
from registry.policy import CatalogSnapshot, PolicyRequest, evaluate
from registry.terms import (
    Grant,
    MauCap,
    NonProduction,
    NoPaymentReceived,
    RegistrationRequired,
    RevenueCap,
    TerritoryCondition,
)
from registry.vocabulary import (
    ArtifactKind,
    BaseRelation,
    Decision,
    GrantStatus,
    HostKind,
    ObligationKind,
    OrganisationType,
    OutputUse,
    Purpose,
    UseCase,
)

SHARED_LICENSES = Path(__file__).resolve().parents[2].parent / "shared" / "licenses"
NON_COMMERCIAL = (Purpose.PERSONAL, Purpose.RESEARCH, Purpose.INTERNAL_EVALUATION, Purpose.CHARITABLE)
COMMERCIAL = (Purpose.COMMERCIAL_INTERNAL, Purpose.COMMERCIAL_PRODUCT, Purpose.HOSTED_SERVICE)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_builtin_catalog()


def _license(catalog: Catalog, ref: str) -> LicenseDocument:
    return next(doc for doc in catalog.licenses if doc.ref == ref)


def _artifact(catalog: Catalog, artifact_id: str) -> Artifact:
    return next(a for a in catalog.artifacts if a.id == artifact_id)


def _grant(doc: LicenseDocument, purpose: Purpose) -> Grant:
    grant = doc.terms.grant_for(purpose)
    assert grant is not None, f"{doc.ref} says nothing about {purpose.value}"
    return grant


def _walk(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every (path, value) inside a decoded Struct tree."""
    yield path, value
    if isinstance(value, msgspec.Struct):
        for field in value.__struct_fields__:
            yield from _walk(getattr(value, field), f"{path}.{field}")
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}[{index}]")


# -- the files themselves


def test_every_builtin_file_decodes_into_a_catalog() -> None:
    paths = builtin_catalog_paths()
    assert {p.name for p in paths} >= {"licenses.yaml", "artifacts.yaml", "runners.yaml"}
    for path in paths:
        part = msgspec.yaml.decode(path.read_bytes(), type=Catalog)
        assert part != Catalog(), f"{path.name} is empty"
        assert not part.tenants, "the built-in catalog holds no tenants"
        assert not part.agreements, "the built-in catalog holds no agreements"


def test_builtin_files_are_package_data() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"builtin/*.yaml"' in pyproject
    assert BUILTIN_DIR.parent.name == "registry"


def test_merged_catalog_passes_cross_entry_validation(catalog: Catalog) -> None:
    assert check_catalog(catalog) == []


def test_every_reference_resolves(catalog: Catalog) -> None:
    refs = {doc.ref: doc for doc in catalog.licenses}
    ids = {a.id for a in catalog.artifacts}
    for artifact in catalog.artifacts:
        assert artifact.license in refs, artifact.id
        assert not refs[artifact.license].service_terms or artifact.kind is ArtifactKind.PROVIDER_SERVICE
        assert set(artifact.bases) <= ids, artifact.id
        assert set(artifact.components) <= ids, artifact.id
    for runner in catalog.runners:
        assert set(runner.artifacts) <= ids, runner.id
        if runner.service_terms is not None:
            assert refs[runner.service_terms].service_terms, runner.id


# -- every license, whatever it is


def test_every_license_grants_something_and_every_clause_is_cited(catalog: Catalog) -> None:
    for doc in catalog.licenses:
        assert doc.terms.grants, doc.ref
        for path, value in _walk(doc.terms):
            if path.endswith(".clause"):
                assert isinstance(value, str), f"{doc.ref}{path}"
                assert value.strip(), f"{doc.ref}{path} cites no clause"


def test_weight_licenses_answer_for_every_purpose(catalog: Catalog) -> None:
    """A gap would leave the engine guessing; `unknown@0` answers too (conflicting)."""
    for doc in catalog.licenses:
        if not doc.service_terms:
            assert {g.purpose for g in doc.terms.grants} == set(Purpose), doc.ref


def test_uncertain_encodings_say_why(catalog: Catalog) -> None:
    for doc in catalog.licenses:
        if doc.verification.value != "verified" or doc.text_sha256 is None:
            assert doc.verification_note, f"{doc.ref} must say what was read instead of the text"


def test_hugging_face_aliases_are_unambiguous(catalog: Catalog) -> None:
    aliases = [alias for doc in catalog.licenses for alias in doc.hf_aliases]
    assert len(aliases) == len(set(aliases))


def test_license_hashes_are_of_the_stored_texts(catalog: Catalog) -> None:
    if not SHARED_LICENSES.is_dir():
        pytest.skip(f"{SHARED_LICENSES} (the licensors' texts) is not on this machine")
    stored = {hashlib.sha256(p.read_bytes()).hexdigest() for p in SHARED_LICENSES.glob("*.txt")}
    hashed = [doc for doc in catalog.licenses if doc.text_sha256 is not None]
    assert len(hashed) >= 6
    for doc in hashed:
        assert doc.text_sha256 in stored, doc.ref


# -- FLUX [dev] Non-Commercial License and FLUX.2 [dev] + Turbo


def test_flux2_dev_forbids_commercial_use_without_an_agreement(catalog: Catalog) -> None:
    flux2 = _artifact(catalog, "black-forest-labs/FLUX.2-dev")
    assert flux2.license == "flux-dev-ncl@2.0"
    ncl = _license(catalog, flux2.license)
    assert ncl.family == "flux-dev-ncl"
    assert ncl.verification.value == "verified"
    assert ncl.text_sha256 is not None
    product = _grant(ncl, Purpose.COMMERCIAL_PRODUCT)
    assert product.status is GrantStatus.REQUIRES_AGREEMENT
    assert "§2(b)" in product.clause
    assert "§4(a)(i)" in product.clause
    for purpose in COMMERCIAL:
        assert _grant(ncl, purpose).status is GrantStatus.REQUIRES_AGREEMENT
    for purpose in NON_COMMERCIAL:
        grant = _grant(ncl, purpose)
        assert grant.status is GrantStatus.CONDITIONAL
        assert any(isinstance(c, NoPaymentReceived) for c in grant.conditions), purpose
    evaluation = _grant(ncl, Purpose.INTERNAL_EVALUATION)
    assert any(isinstance(c, NonProduction) for c in evaluation.conditions)


def test_flux_dev_outputs_derivatives_restrictions_and_termination(catalog: Catalog) -> None:
    for ref in ("flux-dev-ncl@2.0", "flux-dev-ncl@1.1.1"):
        ncl = _license(catalog, ref)
        outputs = {g.use: g for g in ncl.terms.outputs.grants}
        assert outputs[OutputUse.INTERNAL].status is GrantStatus.ALLOWED
        assert outputs[OutputUse.PUBLISH].status is GrantStatus.CONFLICTING
        assert outputs[OutputUse.SELL].status is GrantStatus.CONFLICTING
        assert outputs[OutputUse.TRAIN_COMPETING_MODEL].status is GrantStatus.DENIED
        assert outputs[OutputUse.TRAIN_COMPETING_MODEL].clause == "§2(d)"
        derivatives = ncl.terms.derivatives
        assert derivatives is not None
        assert derivatives.inherits
        assert derivatives.includes_adapters
        assert {r.use_case for r in ncl.terms.use_restrictions} >= {
            UseCase.MILITARY,
            UseCase.SURVEILLANCE,
            UseCase.BIOMETRIC_PROCESSING,
            UseCase.DIGITAL_REPLICA,
        }
        kinds = {o.kind: o for o in ncl.terms.obligations}
        assert kinds[ObligationKind.CONTENT_FILTER].clause == "§2(e)(i)"
        assert kinds[ObligationKind.AI_DISCLOSURE].clause == "§2(e)(ii)"
        assert ObligationKind.ATTRIBUTION in kinds
        termination = ncl.terms.termination
        assert termination is not None
        assert termination.at_will_by_licensor
        assert "§8(b)" in (termination.note or "")
    competing_v2 = _license(catalog, "flux-dev-ncl@2.0").terms.output_grant_for(
        OutputUse.TRAIN_COMPETING_MODEL
    )
    assert competing_v2 is not None
    assert "any FLUX [dev] Model" in (competing_v2.note or ""), "v2.0 covers every FLUX [dev] model"
    v1 = _license(catalog, "flux-dev-ncl@1.0")
    assert v1.retired
    assert ObligationKind.CONTENT_FILTER not in {o.kind for o in v1.terms.obligations}, "§2(e) came in v1.1"


def test_flux_dev_versions_share_a_family_and_split_the_hub_names(catalog: Catalog) -> None:
    versions = {doc.version: doc for doc in catalog.licenses if doc.key == "flux-dev-ncl"}
    assert set(versions) == {"1.0", "1.1.1", "2.0"}
    assert {doc.family for doc in versions.values()} == {"flux-dev-ncl"}
    assert set(versions["2.0"].hf_aliases) == {"flux-dev-non-commercial-license", "flux-dev"}
    assert set(versions["1.1.1"].hf_aliases) == {"flux-1-dev-non-commercial-license", "license-flux1-dev"}


def test_turbo_lora_is_an_adapter_on_flux2_dev_with_its_schedule(catalog: Catalog) -> None:
    turbo = _artifact(catalog, "fal/FLUX.2-dev-Turbo")
    assert turbo.kind is ArtifactKind.ADAPTER
    assert turbo.bases == ("black-forest-labs/FLUX.2-dev",)
    assert turbo.base_relation is BaseRelation.ADAPTER
    assert turbo.license == "flux-dev-ncl@2.0"
    assert not turbo.always_on
    settings = turbo.recommended
    assert settings is not None
    assert (settings.steps, settings.guidance) == (8, 2.5)
    assert settings.sigmas == (1.0, 0.6509, 0.4374, 0.2932, 0.1893, 0.1108, 0.0495, 0.00031)
    assert settings.weight_name == "flux.2-turbo-lora.safetensors"
    assert isinstance(turbo.source, HuggingFaceSource)
    assert turbo.source.repo_id == "fal/FLUX.2-dev-Turbo"


def test_declared_hub_licenses_resolve_to_the_artifacts_licenses(catalog: Catalog) -> None:
    """What the importer would conclude from each card is what the catalog says."""
    table = LicenseAliasTable.from_catalog(catalog)
    declared = [a for a in catalog.artifacts if a.declared_license is not None]
    assert len(declared) >= 12
    for artifact in declared:
        assert table.resolve_name(artifact.declared_license) == artifact.license, artifact.id


def test_no_revision_or_file_hash_is_pinned_without_being_known(catalog: Catalog) -> None:
    for artifact in catalog.artifacts:
        if isinstance(artifact.source, HuggingFaceSource):
            assert artifact.source.revision is None, artifact.id
            assert all(f.sha256 is None for f in artifact.source.files), artifact.id


# -- Stability AI


def test_sd35_commercial_use_is_capped_at_one_million_incl_affiliates(catalog: Catalog) -> None:
    community = _license(catalog, _artifact(catalog, "stabilityai/stable-diffusion-3.5-large").license)
    assert community.ref == "stability-ai-community@2024-07-05"
    for purpose in COMMERCIAL:
        grant = _grant(community, purpose)
        assert grant.status is GrantStatus.CONDITIONAL
        caps = [c for c in grant.conditions if isinstance(c, RevenueCap)]
        assert [(c.max_usd, c.includes_affiliates) for c in caps] == [(1_000_000, True)]
        registrations = [c for c in grant.conditions if isinstance(c, RegistrationRequired)]
        assert [r.registry for r in registrations] == ["stability-ai"]
    powered_by = [o for o in community.terms.obligations if o.kind is ObligationKind.POWERED_BY]
    assert [o.text for o in powered_by] == ["Powered by Stability AI"]
    foundation = community.terms.output_grant_for(OutputUse.TRAIN_FOUNDATION_MODEL)
    assert foundation is not None
    assert foundation.status is GrantStatus.DENIED
    derivatives = community.terms.derivatives
    assert derivatives is not None
    assert derivatives.includes_adapters


def test_sdxl_turbo_is_research_only_and_never_hosted_for_others(catalog: Catalog) -> None:
    nc = _license(catalog, _artifact(catalog, "stabilityai/sdxl-turbo").license)
    assert nc.ref == "stability-ai-nc-research@2023-11-28"
    hosted = _grant(nc, Purpose.HOSTED_SERVICE)
    assert hosted.status not in (GrantStatus.ALLOWED, GrantStatus.CONDITIONAL)
    assert hosted.clause == "§1(b)"
    for purpose in (Purpose.COMMERCIAL_INTERNAL, Purpose.COMMERCIAL_PRODUCT):
        assert _grant(nc, purpose).status is GrantStatus.REQUIRES_AGREEMENT
    assert _grant(nc, Purpose.RESEARCH).status is GrantStatus.CONDITIONAL


def test_openrail_licenses_allow_commercial_hosting_with_attachment_a(catalog: Catalog) -> None:
    for artifact_id in (
        "stabilityai/stable-diffusion-xl-base-1.0",
        "stable-diffusion-v1-5/stable-diffusion-v1-5",
    ):
        rail = _license(catalog, _artifact(catalog, artifact_id).license)
        for purpose in COMMERCIAL:
            assert _grant(rail, purpose).status is GrantStatus.ALLOWED
        assert {r.use_case for r in rail.terms.use_restrictions} >= {
            UseCase.MEDICAL_ADVICE,
            UseCase.AUTOMATED_LEGAL_DECISION,
            UseCase.LAW_ENFORCEMENT,
            UseCase.IMMIGRATION,
            UseCase.ADMINISTRATION_OF_JUSTICE,
            UseCase.MINORS,
        }
        assert ObligationKind.PROPAGATE_USE_RESTRICTIONS in {o.kind for o in rail.terms.obligations}
    openrail_m = _license(catalog, "creativeml-openrail-m@2022-08-22")
    assert ObligationKind.USE_LATEST_VERSION in {o.kind for o in openrail_m.terms.obligations}


# -- Tencent, Playground, NVIDIA, Llama, providers, unknown


def test_hunyuan_excludes_eu_uk_south_korea_for_weights_and_outputs(catalog: Catalog) -> None:
    hunyuan = _license(catalog, _artifact(catalog, "tencent/HunyuanImage-2.1").license)
    territory = hunyuan.terms.territory
    assert territory is not None
    assert set(territory.excluded) == {"EU", "GB", "KR"}
    assert territory.applies_to_outputs
    for grant in hunyuan.terms.grants:
        conditions = grant.conditions
        assert any(
            isinstance(c, TerritoryCondition) and set(c.excluded) == {"EU", "GB", "KR"} for c in conditions
        )
        assert any(isinstance(c, MauCap) and c.max_users == 100_000_000 for c in conditions)
    any_model = hunyuan.terms.output_grant_for(OutputUse.TRAIN_ANY_MODEL)
    assert any_model is not None
    assert any_model.status is GrantStatus.DENIED
    assert any_model.clause == "§5(b)"
    assert ObligationKind.PROPAGATE_USE_RESTRICTIONS in {o.kind for o in hunyuan.terms.obligations}


def test_playground_cap_binds_only_a_core_image_business(catalog: Catalog) -> None:
    playground = _license(
        catalog, _artifact(catalog, "playgroundai/playground-v2.5-1024px-aesthetic").license
    )
    caps = {c for g in playground.terms.grants for c in g.conditions if isinstance(c, MauCap)}
    assert [(c.max_users, c.only_if_core_business) for c in caps] == [(1_000_000, True)]
    competing = playground.terms.output_grant_for(OutputUse.TRAIN_COMPETING_MODEL)
    assert competing is not None
    assert competing.status is GrantStatus.DENIED
    assert playground.verification.value == "secondary"


def test_sana_is_research_and_evaluation_only(catalog: Catalog) -> None:
    nvidia = _license(
        catalog, _artifact(catalog, "Efficient-Large-Model/Sana_1600M_1024px_diffusers").license
    )
    assert _grant(nvidia, Purpose.RESEARCH).status is GrantStatus.ALLOWED
    assert _grant(nvidia, Purpose.INTERNAL_EVALUATION).status is GrantStatus.ALLOWED
    for purpose in COMMERCIAL:
        assert _grant(nvidia, purpose).status is GrantStatus.DENIED


def test_hidream_carries_its_llama_text_encoder_license(catalog: Catalog) -> None:
    hidream = _artifact(catalog, "HiDream-ai/HiDream-I1-Full")
    assert hidream.license == "mit@1"
    assert hidream.components == ("meta-llama/Llama-3.1-8B-Instruct",)
    encoder = _artifact(catalog, "meta-llama/Llama-3.1-8B-Instruct")
    assert encoder.kind is ArtifactKind.COMPONENT
    llama = _license(catalog, encoder.license)
    caps = {c.max_users for g in llama.terms.grants for c in g.conditions if isinstance(c, MauCap)}
    assert caps == {700_000_000}
    assert "Built with Llama" in {o.text for o in llama.terms.obligations}
    assert llama.verification.value == "secondary"


def test_permissive_licenses_allow_everything_and_ask_for_attribution(catalog: Catalog) -> None:
    for ref, spdx in (("apache@2.0", "Apache-2.0"), ("mit@1", "MIT")):
        doc = _license(catalog, ref)
        assert doc.spdx_id == spdx
        assert {g.status for g in doc.terms.grants} == {GrantStatus.ALLOWED}
        assert ObligationKind.ATTRIBUTION in {o.kind for o in doc.terms.obligations}
    assert _artifact(catalog, "black-forest-labs/FLUX.1-schnell").license == "apache@2.0"
    assert _artifact(catalog, "Qwen/Qwen-Image").license == "apache@2.0"


def test_bfl_api_is_a_provider_service_run_by_a_provider_runner(catalog: Catalog) -> None:
    service = _artifact(catalog, "bfl/flux-2-pro")
    assert service.kind is ArtifactKind.PROVIDER_SERVICE
    assert isinstance(service.source, ProviderSource)
    assert service.source.provider == "bfl"
    terms = _license(catalog, service.license)
    assert terms.service_terms
    assert terms.verification.value == "secondary"
    assert _grant(terms, Purpose.COMMERCIAL_PRODUCT).status is GrantStatus.ALLOWED
    runner = next(r for r in catalog.runners if r.id == "bfl-api")
    assert runner.host is HostKind.PROVIDER
    assert runner.provider == "bfl"
    assert runner.service_terms == terms.ref
    assert runner.price_per_image_usd is not None
    assert runner.price_per_image_usd > 0


def test_unknown_license_is_conflicting_everywhere(catalog: Catalog) -> None:
    unknown = _license(catalog, UNKNOWN_LICENSE)
    assert {g.status for g in unknown.terms.grants} == {GrantStatus.CONFLICTING}
    assert {g.use for g in unknown.terms.outputs.grants} == set(OutputUse)
    assert {g.status for g in unknown.terms.outputs.grants} == {GrantStatus.CONFLICTING}


# -- the real policy engine over the built-in catalog

SMALL = Tenant(
    id="small-studio",
    name="Small Studio",
    profile=TenantProfile(
        organisation_type=OrganisationType.COMPANY,
        country="US",
        end_user_regions=("US",),
        annual_revenue_usd=200_000,
        monthly_active_users=5_000,
        image_generation_core_business=False,
        registrations=("stability-ai",),
    ),
)
LARGE_EU = Tenant(
    id="large-eu",
    name="Large EU Company",
    profile=TenantProfile(
        organisation_type=OrganisationType.COMPANY,
        country="DE",
        end_user_regions=("DE",),
        annual_revenue_usd=50_000_000,
        monthly_active_users=2_000_000,
        image_generation_core_business=True,
        registrations=("stability-ai",),
    ),
)


@pytest.fixture(scope="module")
def snapshot(catalog: Catalog) -> CatalogSnapshot:
    with_tenants = msgspec.structs.replace(
        catalog, tenants=(SMALL, LARGE_EU), operator=Operator(charges_tenants=False)
    )
    return CatalogSnapshot.build(with_tenants)


@pytest.mark.parametrize(
    ("tenant", "model", "adapters", "purpose", "output_use", "use_cases", "expected"),
    [
        # FLUX.2 [dev] + Turbo: evaluation yes, a commercial product no (§2(b), §4(a)(i)).
        (
            SMALL,
            "black-forest-labs/FLUX.2-dev",
            ("fal/FLUX.2-dev-Turbo",),
            Purpose.INTERNAL_EVALUATION,
            OutputUse.INTERNAL,
            (),
            {Decision.ALLOW_WITH_OBLIGATIONS},
        ),
        (
            SMALL,
            "black-forest-labs/FLUX.2-dev",
            ("fal/FLUX.2-dev-Turbo",),
            Purpose.COMMERCIAL_PRODUCT,
            OutputUse.INTERNAL,
            (),
            {Decision.DENY},
        ),
        # SD3.5: under the revenue cap and registered, yes; 50M revenue, no.
        (
            SMALL,
            "stabilityai/stable-diffusion-3.5-large",
            (),
            Purpose.COMMERCIAL_PRODUCT,
            OutputUse.SELL,
            (),
            {Decision.ALLOW_WITH_OBLIGATIONS},
        ),
        (
            LARGE_EU,
            "stabilityai/stable-diffusion-3.5-large",
            (),
            Purpose.COMMERCIAL_PRODUCT,
            OutputUse.INTERNAL,
            (),
            {Decision.DENY},
        ),
        # Hunyuan is not licensed in Germany at all.
        (LARGE_EU, "tencent/HunyuanImage-2.1", (), Purpose.RESEARCH, OutputUse.INTERNAL, (), {Decision.DENY}),
        # SDXL (RAIL++-M): commercial yes, medical advice never.
        (
            SMALL,
            "stabilityai/stable-diffusion-xl-base-1.0",
            (),
            Purpose.COMMERCIAL_PRODUCT,
            OutputUse.SELL,
            (),
            {Decision.ALLOW, Decision.ALLOW_WITH_OBLIGATIONS},
        ),
        (
            SMALL,
            "stabilityai/stable-diffusion-xl-base-1.0",
            (),
            Purpose.COMMERCIAL_PRODUCT,
            OutputUse.SELL,
            (UseCase.MEDICAL_ADVICE,),
            {Decision.DENY},
        ),
        # Sana: research only.
        (
            SMALL,
            "Efficient-Large-Model/Sana_1600M_1024px_diffusers",
            (),
            Purpose.COMMERCIAL_INTERNAL,
            OutputUse.INTERNAL,
            (),
            {Decision.DENY},
        ),
        # Permissive and provider-licensed commercial use.
        (
            SMALL,
            "Qwen/Qwen-Image",
            (),
            Purpose.COMMERCIAL_PRODUCT,
            OutputUse.SELL,
            (),
            {Decision.ALLOW, Decision.ALLOW_WITH_OBLIGATIONS},
        ),
        (
            SMALL,
            "bfl/flux-2-pro",
            (),
            Purpose.COMMERCIAL_PRODUCT,
            OutputUse.SELL,
            (),
            {Decision.ALLOW, Decision.ALLOW_WITH_OBLIGATIONS},
        ),
    ],
)
def test_policy_engine_reads_the_builtin_terms_as_intended(
    snapshot: CatalogSnapshot,
    tenant: Tenant,
    model: str,
    adapters: tuple[str, ...],
    purpose: Purpose,
    output_use: OutputUse,
    use_cases: tuple[UseCase, ...],
    expected: set[Decision],
) -> None:
    request = PolicyRequest(
        tenant_id=tenant.id,
        model_id=model,
        adapter_ids=adapters,
        purpose=purpose,
        output_use=output_use,
        use_cases=frozenset(use_cases),
        date=dt.date(2026, 11, 26),
        max_alternatives=0,
    )
    decision = evaluate(request, snapshot)
    assert decision.decision in expected, decision


def test_an_artifact_of_unknown_license_needs_review(catalog: Catalog) -> None:
    mystery = Artifact(
        id="someone/mystery-lora",
        kind=ArtifactKind.ADAPTER,
        name="LoRA whose license could not be determined",
        license=UNKNOWN_LICENSE,
        bases=("Qwen/Qwen-Image",),
        base_relation=BaseRelation.ADAPTER,
    )
    with_mystery = msgspec.structs.replace(
        catalog, artifacts=(*catalog.artifacts, mystery), tenants=(SMALL,), operator=Operator()
    )
    request = PolicyRequest(
        tenant_id=SMALL.id,
        model_id="Qwen/Qwen-Image",
        adapter_ids=(mystery.id,),
        purpose=Purpose.PERSONAL,
        date=dt.date(2026, 11, 26),
        max_alternatives=0,
    )
    assert evaluate(request, CatalogSnapshot.build(with_mystery)).decision is Decision.NEEDS_REVIEW
