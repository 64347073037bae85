"""Agreements: validity dates inclusive, revocation from its date on, monthly quotas, coverage by
family and per model, and the operator's own agreements judged apart from the tenant's."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from registry.catalog.entries import AgreementCoverage, Catalog, Operator
from registry.policy import CatalogSnapshot, Party, PolicyEngine, evaluate
from registry.vocabulary import Decision
from tests.registry.policy.conftest import make_request

FLUX2 = "black-forest-labs/FLUX.2-dev"
TURBO = "fal/FLUX.2-dev-Turbo"


def _flux2(snapshot: CatalogSnapshot, **fields: object) -> Decision:
    request = make_request(
        **{
            "tenant_id": "acme",
            "model_id": FLUX2,
            "adapter_ids": [TURBO],
            "runner_id": "local-flux2",
            "purpose": "commercial_product",
            **fields,
        }
    )
    return evaluate(request, snapshot).decision


def _with_agreements(catalog: Catalog, replace: dict[str, dict[str, object]]) -> CatalogSnapshot:
    agreements = tuple(
        msgspec.structs.replace(a, **replace[a.id]) if a.id in replace else a for a in catalog.agreements
    )
    return CatalogSnapshot.build(msgspec.structs.replace(catalog, agreements=agreements))


@pytest.mark.parametrize(
    ("date", "permitted"),
    [
        (dt.date(2025, 12, 31), False),  # the day before valid_from
        (dt.date(2026, 1, 1), True),  # valid_from is inclusive
        (dt.date(2026, 12, 31), True),  # valid_until is inclusive
        (dt.date(2027, 1, 1), False),
    ],
)
def test_validity_dates_are_inclusive(snapshot: CatalogSnapshot, date: dt.date, permitted: bool) -> None:
    assert (_flux2(snapshot, date=date) is Decision.ALLOW_WITH_OBLIGATIONS) is permitted


def test_expired_agreement_is_named_in_the_reason(snapshot: CatalogSnapshot) -> None:
    request = make_request(
        tenant_id="acme",
        model_id=FLUX2,
        runner_id="local-flux2",
        purpose="commercial_product",
        date=dt.date(2027, 1, 5),
    )
    decision = evaluate(request, snapshot)
    assert decision.decision is Decision.DENY
    assert any("bfl-acme-flux2' expired" in r.message for r in decision.reasons)


@pytest.mark.parametrize(
    ("used", "permitted"), [(0, True), (99_999, True), (100_000, False), (250_000, False)]
)
def test_monthly_quota(snapshot: CatalogSnapshot, used: int, permitted: bool) -> None:
    decision = _flux2(snapshot, usage_this_month={"bfl-acme-flux2": used})
    assert (decision is Decision.ALLOW_WITH_OBLIGATIONS) is permitted


def test_revocation_takes_effect_on_its_date(catalog: Catalog) -> None:
    snapshot = _with_agreements(catalog, {"bfl-acme-flux2": {"revoked_at": dt.date(2026, 6, 1)}})
    assert _flux2(snapshot, date=dt.date(2026, 5, 31)) is Decision.ALLOW_WITH_OBLIGATIONS
    assert _flux2(snapshot, date=dt.date(2026, 6, 1)) is Decision.DENY


def test_per_model_agreement_does_not_cover_another_model_of_the_family(snapshot: CatalogSnapshot) -> None:
    # bfl-acme-flux2 covers FLUX.2 [dev] (and derivatives), not FLUX.1 [dev] under the same family.
    decision = evaluate(
        make_request(
            tenant_id="acme",
            model_id="black-forest-labs/FLUX.1-dev",
            runner_id="local-flux1",
            purpose="commercial_product",
        ),
        snapshot,
    )
    assert decision.decision is Decision.DENY
    assert "bfl-acme-flux2" not in decision.agreements_relied_on


def test_agreement_for_other_purposes_does_not_help(catalog: Catalog) -> None:
    snapshot = _with_agreements(catalog, {"bfl-acme-flux2": {"purposes": ("commercial_internal",)}})
    assert _flux2(snapshot) is Decision.DENY
    assert _flux2(snapshot, purpose="commercial_internal") is Decision.ALLOW_WITH_OBLIGATIONS


def test_artifact_only_agreement_covers_the_model_and_its_derivatives(catalog: Catalog) -> None:
    snapshot = _with_agreements(
        catalog, {"bfl-acme-flux2": {"covers": AgreementCoverage(artifacts=(FLUX2,))}}
    )
    assert _flux2(snapshot) is Decision.ALLOW_WITH_OBLIGATIONS


def test_operator_without_its_own_agreement_is_denied_whatever_the_tenant_holds(catalog: Catalog) -> None:
    agreements = tuple(a for a in catalog.agreements if a.holder != "operator")
    snapshot = CatalogSnapshot.build(msgspec.structs.replace(catalog, agreements=agreements))
    decision = evaluate(
        make_request(tenant_id="acme", model_id=FLUX2, runner_id="local-flux2", purpose="commercial_product"),
        snapshot,
    )
    assert decision.decision is Decision.DENY
    verdicts = {v.party: v for v in decision.parties}
    assert verdicts[Party.TENANT].decision is Decision.ALLOW_WITH_OBLIGATIONS
    assert verdicts[Party.OPERATOR].decision is Decision.DENY
    assert verdicts[Party.OPERATOR].purpose.value == "hosted_service"


def test_operator_that_does_not_charge_needs_no_agreement_for_personal_use(catalog: Catalog) -> None:
    agreements = tuple(a for a in catalog.agreements if a.holder != "operator")
    assert catalog.operator is not None
    operator = msgspec.structs.replace(catalog.operator, charges_tenants=False)
    free = CatalogSnapshot.build(msgspec.structs.replace(catalog, agreements=agreements, operator=operator))
    request = make_request(tenant_id="hobbyist", model_id=FLUX2, runner_id="local-flux2", purpose="personal")
    decision = evaluate(request, free)
    assert decision.permitted
    assert {v.party: v.purpose.value for v in decision.parties}[Party.OPERATOR] == "personal"
    charging = CatalogSnapshot.build(msgspec.structs.replace(catalog, agreements=agreements))
    assert evaluate(request, charging).decision is Decision.DENY


def test_provider_terms_with_commercial_use_for_a_non_charging_operator(catalog: Catalog) -> None:
    operator = Operator(name="In-house gateway", charges_tenants=False)
    snapshot = CatalogSnapshot.build(msgspec.structs.replace(catalog, operator=operator))
    request = make_request(
        tenant_id="acme",
        model_id="bfl/flux-2-pro",
        runner_id="bfl-api-live",
        purpose="commercial_product",
        output_use="sell",
    )
    decision = evaluate(request, snapshot)
    assert decision.decision is Decision.ALLOW
    service = [e for e in decision.effective_licenses if e.via.value == "service_terms"]
    assert [e.license for e in service] == ["bfl-api-terms@1"]


def test_engine_reuses_decisions_only_while_agreements_stay_as_they_were(snapshot: CatalogSnapshot) -> None:
    engine = PolicyEngine(snapshot)
    base = make_request(
        tenant_id="acme",
        model_id=FLUX2,
        adapter_ids=[TURBO],
        runner_id="local-flux2",
        purpose="commercial_product",
    )
    engine.evaluate(base)  # asked once before: kept from its next ask on
    for date, used in [
        (dt.date(2026, 11, 26), 10),
        (dt.date(2026, 11, 27), 11),  # cached: same usability, new decision id
        (dt.date(2026, 11, 27), 100_000),  # quota used up
        (dt.date(2026, 12, 31), 5),
        (dt.date(2027, 1, 1), 5),  # expired
        (dt.date(2026, 11, 28), 12),
    ]:
        request = msgspec.structs.replace(base, date=date, usage_this_month={"bfl-acme-flux2": used})
        assert engine.evaluate(request) == evaluate(request, snapshot)
        assert engine.kept == 1


def test_engine_finds_alternatives_that_an_agreement_opens_later(catalog: Catalog) -> None:
    """A deny's alternatives are searched for on the request's date: an agreement starting later
    adds one, so the engine does not answer a later request with a deny remembered without any."""
    kept = {"black-forest-labs/FLUX.1-dev", FLUX2}
    only_flux = msgspec.structs.replace(
        catalog,
        artifacts=tuple(a for a in catalog.artifacts if a.id in kept),
        runners=tuple(
            msgspec.structs.replace(r, artifacts=tuple(a for a in r.artifacts if a in kept))
            for r in catalog.runners
            if r.id in ("local-flux1", "local-flux2")
        ),
    )
    snapshot = CatalogSnapshot.build(only_flux)
    engine = PolicyEngine(snapshot)
    answers = []
    for date in (dt.date(2025, 12, 15), dt.date(2026, 1, 2)):  # acme's FLUX.2 agreement starts 2026-01-01
        request = make_request(
            tenant_id="acme",
            model_id="black-forest-labs/FLUX.1-dev",
            runner_id="local-flux1",
            purpose="commercial_product",
            date=date,
            max_alternatives=5,
        )
        answers.append(engine.evaluate(request))
        assert answers[-1] == evaluate(request, snapshot)
    assert [a.decision for a in answers] == [Decision.DENY, Decision.DENY]
    found = [[(x.model_id, x.runner_id) for x in a.alternatives] for a in answers]
    assert found == [[], [(FLUX2, "local-flux2")]]


@pytest.mark.parametrize("tenant", ["acme", "bigco"])
def test_operator_quota_used_up_between_two_requests_on_one_snapshot(catalog: Catalog, tenant: str) -> None:
    """A decision remembered beside the operator's judgement is not reused once the operator's own
    quota is used up, nor after it is back under it (a new month)."""
    snapshot = _with_agreements(catalog, {"bfl-operator-flux2": {"monthly_quota": 10}})
    answers = []
    operator = "bfl-operator-flux2"
    usages: list[dict[str, int]] = [
        {operator: 5},
        {operator: 9},
        {operator: 10},
        {},  # counting nothing: as under the quota
        {operator: 11},
        {"bfl-acme-flux2": 5},  # counting another agreement only
        {operator: 3},
    ]
    for usage in usages:
        request = make_request(
            tenant_id=tenant,
            model_id=FLUX2,
            runner_id="local-flux2",
            purpose="commercial_product",
            usage_this_month=usage,
        )
        fresh = _with_agreements(catalog, {operator: {"monthly_quota": 10}})
        answer = evaluate(request, snapshot)
        assert answer == evaluate(request, fresh), usage
        answers.append(
            next(v.decision for v in answer.parties if v.party is Party.OPERATOR) is not Decision.DENY
        )
    assert answers == [True, True, False, True, False, True, True]
