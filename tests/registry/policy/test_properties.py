"""Invariants of the engine, checked with hypothesis over the built-in catalog and deployment."""

from __future__ import annotations

import datetime as dt
import random

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from registry.catalog.entries import Agreement, AgreementCoverage, Catalog
from registry.policy import CatalogSnapshot, PolicyEngine, PolicyRequest, evaluate
from registry.vocabulary import ArtifactKind, Decision, OutputUse, Purpose, UseCase
from tests.registry.policy.conftest import load_catalog

CATALOG = load_catalog()
SNAPSHOT = CatalogSnapshot.build(CATALOG)
MODELS = sorted(
    a.id for a in CATALOG.artifacts if a.kind in (ArtifactKind.BASE_MODEL, ArtifactKind.PROVIDER_SERVICE)
)
ADAPTERS = sorted(a.id for a in CATALOG.artifacts if a.kind is ArtifactKind.ADAPTER)
RUNNERS = sorted(r.id for r in CATALOG.runners)
TENANTS = sorted(t.id for t in CATALOG.tenants)
FAMILIES = sorted({d.family for d in CATALOG.licenses})
REGIONS = ["US", "CA", "DE", "FR", "GB", "KR", "JP", "EU"]
PROPERTY = settings(max_examples=60, deadline=None)

requests = st.builds(
    PolicyRequest,
    tenant_id=st.sampled_from(TENANTS),
    model_id=st.sampled_from(MODELS),
    adapter_ids=st.lists(st.sampled_from(ADAPTERS), max_size=2).map(tuple),
    runner_id=st.none() | st.sampled_from(RUNNERS),
    purpose=st.sampled_from(list(Purpose)),
    output_use=st.sampled_from(list(OutputUse)),
    use_cases=st.frozensets(st.sampled_from(list(UseCase)), max_size=2),
    end_user_regions=st.none() | st.lists(st.sampled_from(REGIONS), max_size=3, unique=True).map(tuple),
    date=st.dates(dt.date(2025, 10, 1), dt.date(2027, 3, 1)),
    strict=st.booleans(),
    usage_this_month=st.dictionaries(st.just("bfl-acme-flux2"), st.integers(0, 200_000), max_size=1),
    max_alternatives=st.just(0),
)


@PROPERTY
@given(request=requests, extra=st.sampled_from(ADAPTERS))
def test_adding_an_adapter_never_turns_a_deny_into_an_allow(request: PolicyRequest, extra: str) -> None:
    before = evaluate(request, SNAPSHOT)
    after = evaluate(msgspec.structs.replace(request, adapter_ids=(*request.adapter_ids, extra)), SNAPSHOT)
    if before.decision is Decision.DENY:
        assert after.decision is Decision.DENY


@st.composite
def valid_agreements(draw: st.DrawFn, date: dt.date) -> Agreement:
    start = date - dt.timedelta(days=draw(st.integers(0, 400)))
    return Agreement(
        id="generated-agreement",
        holder=draw(st.sampled_from([*TENANTS, "operator"])),
        licensor="somebody",
        covers=AgreementCoverage(
            license_families=tuple(
                draw(st.lists(st.sampled_from(FAMILIES), min_size=1, max_size=2, unique=True))
            ),
            artifacts=tuple(draw(st.lists(st.sampled_from(MODELS + ADAPTERS), max_size=2, unique=True))),
        ),
        purposes=tuple(draw(st.lists(st.sampled_from(list(Purpose)), min_size=1, max_size=3, unique=True))),
        valid_from=start,
        valid_until=draw(st.none() | st.just(date + dt.timedelta(days=draw(st.integers(0, 400))))),
    )


@PROPERTY
@given(request=requests, data=st.data())
def test_adding_a_valid_agreement_never_turns_an_allow_into_a_deny(
    request: PolicyRequest, data: st.DataObject
) -> None:
    before = evaluate(request, SNAPSHOT)
    agreement = data.draw(valid_agreements(request.date))
    snapshot = CatalogSnapshot.build(
        msgspec.structs.replace(CATALOG, agreements=(*CATALOG.agreements, agreement))
    )
    after = evaluate(request, snapshot)
    if before.permitted:
        assert after.permitted


@PROPERTY
@given(request=requests)
def test_every_deny_cites_a_clause(request: PolicyRequest) -> None:
    decision = evaluate(request, SNAPSHOT)
    if decision.decision is Decision.DENY:
        deciding = decision.deciding_reasons()
        assert deciding
        assert all(r.clause for r in deciding)
    if decision.decision is Decision.NEEDS_REVIEW:
        assert decision.deciding_reasons()


def _shuffled(catalog: Catalog, rnd: random.Random) -> Catalog:
    def mix(items: tuple[object, ...]) -> tuple[object, ...]:
        listed = list(items)
        rnd.shuffle(listed)
        return tuple(listed)

    return msgspec.structs.replace(
        catalog,
        licenses=mix(catalog.licenses),
        artifacts=mix(catalog.artifacts),
        tenants=mix(catalog.tenants),
        agreements=mix(catalog.agreements),
        runners=mix(catalog.runners),
    )


@settings(max_examples=25, deadline=None)
@given(request=requests, rnd=st.randoms(use_true_random=False))
def test_evaluation_is_deterministic_and_independent_of_order(
    request: PolicyRequest, rnd: random.Random
) -> None:
    expected = evaluate(request, SNAPSHOT)
    assert evaluate(request, SNAPSHOT) == expected
    shuffled = CatalogSnapshot.build(_shuffled(CATALOG, rnd))
    assert shuffled.version == SNAPSHOT.version
    regions = request.end_user_regions
    reordered = msgspec.structs.replace(
        request,
        use_cases=frozenset(sorted(request.use_cases, reverse=True)),
        end_user_regions=tuple(reversed(regions)) if regions is not None else None,
        usage_this_month=dict(reversed(list(request.usage_this_month.items()))),
    )
    assert evaluate(reordered, shuffled) == expected
    # the JSON a caller stores is byte for byte the same
    assert msgspec.json.encode(evaluate(reordered, shuffled)) == msgspec.json.encode(expected)


@settings(max_examples=40, deadline=None)
@given(
    request=requests,
    variations=st.lists(
        st.tuples(st.dates(dt.date(2025, 10, 1), dt.date(2027, 3, 1)), st.integers(0, 200_000)),
        min_size=1,
        max_size=6,
    ),
)
def test_engine_cache_answers_exactly_like_evaluate(
    request: PolicyRequest, variations: list[tuple[dt.date, int]]
) -> None:
    engine = PolicyEngine(SNAPSHOT, cache_size=8)
    for date, used in variations:
        varied = msgspec.structs.replace(request, date=date, usage_this_month={"bfl-acme-flux2": used})
        assert engine.evaluate(varied) == evaluate(varied, SNAPSHOT)


@settings(max_examples=40, deadline=None)
@given(
    request=requests,
    variations=st.lists(
        st.tuples(st.dates(dt.date(2025, 10, 1), dt.date(2027, 3, 1)), st.integers(0, 200_000)),
        min_size=1,
        max_size=5,
    ),
)
def test_a_warm_snapshot_answers_like_a_fresh_one(
    request: PolicyRequest, variations: list[tuple[dt.date, int]]
) -> None:
    """The judgements a snapshot remembers between requests never change an answer."""
    for date, used in variations:
        varied = msgspec.structs.replace(request, date=date, usage_this_month={"bfl-acme-flux2": used})
        fresh = CatalogSnapshot.build(CATALOG, version=SNAPSHOT.version)
        assert evaluate(varied, SNAPSHOT) == evaluate(varied, fresh)
