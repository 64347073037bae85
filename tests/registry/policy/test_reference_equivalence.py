"""The engine's fast path (compiled stacks, judgements remembered by the facts they read, whole
decisions shared by tenants with equal facts) answers exactly as a straightforward evaluation
that judges every license afresh: same decision, reasons, clauses, obligations, ids."""

from __future__ import annotations

import datetime as dt
import random

import msgspec
import pytest
from policy_reference import reference_evaluate

from bench.policy import generate_catalog, generate_requests
from registry.catalog.entries import Catalog, TenantProfile
from registry.policy import CatalogSnapshot, PolicyEngine, PolicyRequest, evaluate
from registry.vocabulary import ArtifactKind, OrganisationType, OutputUse, Purpose, UseCase
from tests.registry.policy.conftest import load_catalog

REGIONS = ["US", "CA", "DE", "FR", "GB", "KR", "JP", "EU", "CN"]


def _random_profile(rng: random.Random) -> TenantProfile:
    return TenantProfile(
        organisation_type=rng.choice([None, *OrganisationType]),
        country=rng.choice([None, "US", "DE", "GB", "KR", "CN"]),
        end_user_regions=tuple(rng.sample(REGIONS, rng.randrange(3))),
        annual_revenue_usd=rng.choice([None, 50_000.0, 999_999.0, 1_000_001.0, 5e6, 5e9]),
        monthly_active_users=rng.choice([None, 10, 1_000_000, 700_000_000]),
        image_generation_core_business=rng.choice([None, True, False]),
        registrations=tuple(
            rng.sample(["stability-ai", "bfl", "licensor-1", "licensor-7"], rng.randrange(3))
        ),
    )


def _builtin_requests(catalog: Catalog, count: int, seed: int) -> list[PolicyRequest]:
    rng = random.Random(seed)
    models = sorted(
        a.id for a in catalog.artifacts if a.kind in (ArtifactKind.BASE_MODEL, ArtifactKind.PROVIDER_SERVICE)
    )
    adapters = sorted(a.id for a in catalog.artifacts if a.kind is ArtifactKind.ADAPTER)
    runners = sorted(r.id for r in catalog.runners)
    serving = {m: [r.id for r in catalog.runners if m in r.artifacts] for m in models}
    tenants = sorted(t.id for t in catalog.tenants)
    agreements = sorted(a.id for a in catalog.agreements)
    requests = []
    for _ in range(count):
        model_id = rng.choice([*models] * 20 + adapters[:1])
        runner_id = (
            rng.choice([None, *runners])
            if rng.random() < 0.2
            else rng.choice([None, *serving.get(model_id, [])])
        )
        requests.append(
            PolicyRequest(
                tenant_id=rng.choice([*tenants] * 20 + ["no-such-tenant"]),
                model_id=model_id,
                adapter_ids=tuple(rng.sample(adapters, rng.choice([0, 0, 1, 1, 2]))),
                runner_id=runner_id,
                purpose=rng.choice(list(Purpose)),
                output_use=rng.choice(list(OutputUse)),
                use_cases=frozenset(rng.sample(list(UseCase), rng.choice([0, 0, 0, 1, 2]))),
                end_user_regions=rng.choice([None, None, tuple(rng.sample(REGIONS, rng.randrange(3)))]),
                date=dt.date(2026, 11, 26) + dt.timedelta(days=rng.randrange(-400, 200)),
                strict=rng.random() < 0.3,
                usage_this_month={rng.choice(agreements): rng.randrange(200_000)} if agreements else {},
                profile_override=_random_profile(rng) if rng.random() < 0.5 else None,
                max_alternatives=0,
            )
        )
    return requests


def _asked(request: PolicyRequest) -> bytes:
    """What the engine keeps a decision under: the request but its date and usage."""
    return msgspec.json.encode(msgspec.structs.replace(request, date=dt.date.min, usage_this_month={}))


def _assert_same(requests: list[PolicyRequest], snapshot: CatalogSnapshot) -> None:
    engine = PolicyEngine(snapshot, cache_size=64)
    for rounds in range(2):  # the second round answers from what the first one remembered
        for request in requests:
            expected = reference_evaluate(request, snapshot)
            assert evaluate(request, snapshot) == expected, (rounds, request)
            assert engine.evaluate(request) == expected, (rounds, request)
            assert engine.evaluate(request) == expected, ("remembered", rounds, request)
    # Remembered decisions asked again on other dates, with other usage: reused only while every
    # agreement their judgements checked answers as it did.
    remembering = PolicyEngine(snapshot, cache_size=len(requests))
    for request in requests * 2:  # a decision is kept once its request is asked again
        remembering.evaluate(request)
    assert remembering.kept == len({_asked(r) for r in requests})
    for days, used in ((1, 0), (31, 1), (-45, 0), (200, 10**6)):
        for request in requests:
            varied = msgspec.structs.replace(
                request,
                date=request.date + dt.timedelta(days=days),
                usage_this_month={a: n * 3 + used for a, n in request.usage_this_month.items()},
            )
            assert remembering.evaluate(varied) == reference_evaluate(varied, snapshot), (days, used, varied)
    # The same for denies with their alternatives, searched for on the request's date (the
    # reference asks for none: `evaluate` is the reference here).
    searching = PolicyEngine(snapshot, cache_size=len(requests))
    asking = [msgspec.structs.replace(r, max_alternatives=5) for r in requests[::3]]
    for request in asking * 2:
        searching.evaluate(request)
    for days in (1, 31, -45, 200, 400):
        for request in asking:
            varied = msgspec.structs.replace(request, date=request.date + dt.timedelta(days=days))
            assert searching.evaluate(varied) == evaluate(varied, snapshot), (days, varied)


@pytest.mark.parametrize("seed", [1, 2])
def test_builtin_catalog_fast_path_matches_the_reference(seed: int) -> None:
    catalog = load_catalog()
    snapshot = CatalogSnapshot.build(catalog)
    _assert_same(_builtin_requests(catalog, 500, seed), snapshot)


@pytest.mark.parametrize("agreements", [3_000, 20_000])
def test_generated_catalog_fast_path_matches_the_reference(agreements: int) -> None:
    """The benchmark's catalog shape, scaled down so that tenants often hold agreements for the
    licenses of a stack (judged against them) and often not (shared judgements)."""
    catalog = generate_catalog(
        3, n_licenses=60, n_bases=40, n_adapters=120, n_tenants=50, n_agreements=agreements, n_runners=8
    )
    snapshot = CatalogSnapshot.build(catalog)
    requests = generate_requests(catalog, 400, seed=5, stacks=30, stack_seed=5)
    _assert_same(requests, snapshot)


def test_tenants_with_different_facts_on_the_same_stack_get_their_own_reasons() -> None:
    """Judgements are shared between tenants by the facts they read (revenue, users, core
    business, organisation type, registrations, country and regions): tenants differing in any
    of them, on the same stacks, must still get the reference's reasons."""
    catalog = load_catalog()
    snapshot = CatalogSnapshot.build(catalog)
    rng = random.Random(9)
    tenant = sorted(t.id for t in catalog.tenants)[0]
    requests = []
    for runner in sorted(catalog.runners, key=lambda r: r.id):
        for model_id in runner.artifacts:
            for purpose in (Purpose.COMMERCIAL_PRODUCT, Purpose.PERSONAL, Purpose.HOSTED_SERVICE):
                for _ in range(40):
                    requests.append(
                        PolicyRequest(
                            tenant_id=tenant,
                            model_id=model_id,
                            runner_id=runner.id,
                            purpose=purpose,
                            output_use=rng.choice([OutputUse.SELL, OutputUse.PUBLISH]),
                            date=dt.date(2026, 11, 26),
                            profile_override=_two_valued_profile(rng),
                            max_alternatives=0,
                        )
                    )
    _assert_same(requests, snapshot)


def _two_valued_profile(rng: random.Random) -> TenantProfile:
    """Few values per fact, so that tenants equal in the facts one license reads and different in
    the others meet on the same stack."""
    return TenantProfile(
        organisation_type=rng.choice([None, OrganisationType.COMPANY]),
        country=rng.choice([None, "US", "DE"]),
        end_user_regions=rng.choice([(), ("EU",)]),
        annual_revenue_usd=rng.choice([None, 5e6]),
        monthly_active_users=rng.choice([10, 700_000_000]),
        image_generation_core_business=rng.choice([None, True]),
        registrations=rng.choice([(), ("stability-ai",)]),
    )
