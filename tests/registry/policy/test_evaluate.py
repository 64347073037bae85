"""The shape of a decision: errors deny, effective licenses explain themselves, runner choice,
alternatives for a deny, deterministic decision ids."""

from __future__ import annotations

import msgspec
import pytest

from registry.catalog.entries import Artifact, Catalog
from registry.policy import AppliedVia, CatalogSnapshot, evaluate, evaluate_runners
from registry.vocabulary import ArtifactKind, Decision
from tests.registry.policy.conftest import Decide, make_request

FLUX2 = "black-forest-labs/FLUX.2-dev"
TURBO = "fal/FLUX.2-dev-Turbo"


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"tenant_id": "nobody"}, "tenant 'nobody' is not in the catalog"),
        ({"model_id": "nope/model"}, "model 'nope/model' is not in the catalog"),
        ({"model_id": TURBO}, "is a adapter, not a base model"),
        ({"adapter_ids": ["nope/lora"]}, "adapter 'nope/lora' is not in the catalog"),
        ({"adapter_ids": [FLUX2]}, "is a base_model, not an adapter"),
        ({"runner_id": "nope"}, "runner 'nope' is not in the catalog"),
        ({"runner_id": "fal-flux2-dev-turbo"}, "runner 'fal-flux2-dev-turbo' is disabled"),
        ({"runner_id": "local-sd"}, "runner 'local-sd' does not serve"),
    ],
)
def test_errors_never_grant(decide: Decide, fields: dict[str, object], error: str) -> None:
    request = {"tenant_id": "acme", "model_id": FLUX2, "runner_id": "local-flux2", "purpose": "research"}
    decision = decide(**{**request, **fields})
    assert decision.decision is Decision.DENY
    assert any(error in e for e in decision.errors), decision.errors
    assert decision.reasons
    assert all(r.clause == "evaluation error" for r in decision.reasons)


def test_missing_base_in_catalog_is_an_error(catalog: Catalog) -> None:
    orphan = Artifact(
        id="someone/orphan-lora",
        kind=ArtifactKind.ADAPTER,
        name="orphan",
        license="apache@2.0",
        bases=("someone/deleted-base",),
    )
    snapshot = CatalogSnapshot.build(msgspec.structs.replace(catalog, artifacts=(*catalog.artifacts, orphan)))
    request = make_request(
        tenant_id="acme", model_id=FLUX2, adapter_ids=[orphan.id], runner_id="local-flux2", purpose="research"
    )
    decision = evaluate(request, snapshot)
    assert decision.decision is Decision.DENY
    assert any("someone/deleted-base" in e for e in decision.errors)


def test_effective_licenses_say_why_each_applies(decide: Decide) -> None:
    decision = decide(
        tenant_id="acme",
        model_id="black-forest-labs/FLUX.1-schnell",
        adapter_ids=["someone/flux1-dev-style-lora-v2"],
        runner_id="local-flux1",
        purpose="research",
    )
    applied = {(e.license, e.artifact, e.via, e.source) for e in decision.effective_licenses}
    lora = "someone/flux1-dev-style-lora-v2"
    assert (
        "apache@2.0",
        "black-forest-labs/FLUX.1-schnell",
        AppliedVia.OWN,
        "black-forest-labs/FLUX.1-schnell",
    ) in applied
    assert ("mit@1", lora, AppliedVia.OWN, lora) in applied
    assert ("flux-dev-ncl@1.1.1", lora, AppliedVia.BASE, "black-forest-labs/FLUX.1-dev") in applied
    # apache does not reach derivatives (§4): v1's own tag does not bind v2
    assert ("apache@2.0", lora, AppliedVia.BASE, "someone/flux1-dev-style-lora") not in applied
    path = next(e.path for e in decision.effective_licenses if e.license == "flux-dev-ncl@1.1.1")
    assert path == (lora, "someone/flux1-dev-style-lora", "black-forest-labs/FLUX.1-dev")


def test_creator_terms_are_listed(decide: Decide) -> None:
    decision = decide(
        tenant_id="acme",
        model_id="stabilityai/stable-diffusion-xl-base-1.0",
        adapter_ids=["civitai/pixel-art-xl"],
        runner_id="local-sd",
        purpose="personal",
    )
    assert any(e.via is AppliedVia.CREATOR for e in decision.effective_licenses)
    credit = [o for o in decision.obligations if o.clause.endswith("allowNoCredit")]
    assert credit
    assert credit[0].text == "Credit nerijs for civitai/pixel-art-xl"


def test_without_runner_every_candidate_is_judged_and_the_best_returned(snapshot: CatalogSnapshot) -> None:
    request = make_request(
        tenant_id="bigco", model_id=FLUX2, adapter_ids=[TURBO], purpose="commercial_product"
    )
    per_runner = {d.runner_id: d.decision for d in evaluate_runners(request, snapshot)}
    # fal's built-in runner is disabled; the operator's own GPUs need a BFL license bigco lacks
    assert per_runner == {"local-flux2": Decision.DENY, "provider-flux2": Decision.ALLOW}
    assert evaluate(request, snapshot).runner_id == "provider-flux2"


def test_a_deny_offers_permitted_alternatives_best_first(decide: Decide) -> None:
    fields = {
        "tenant_id": "bigco",
        "model_id": FLUX2,
        "adapter_ids": [TURBO],
        "purpose": "commercial_product",
    }
    decision = decide(**fields, runner_id="local-flux2")
    assert decision.decision is Decision.DENY
    assert decision.alternatives
    assert all(a.decision in (Decision.ALLOW, Decision.ALLOW_WITH_OBLIGATIONS) for a in decision.alternatives)
    first = decision.alternatives[0]
    assert (first.model_id, first.adapter_ids, first.runner_id) == (FLUX2, (TURBO,), "provider-flux2")
    ranks = [
        (a.decision is not Decision.ALLOW, a.family != "flux2", a.obligations) for a in decision.alternatives
    ]
    assert ranks == sorted(ranks)
    assert decide(**fields, runner_id="local-flux2", max_alternatives=0).alternatives == ()


def test_decision_id_is_deterministic_or_chosen(decide: Decide) -> None:
    fields = {"tenant_id": "acme", "model_id": FLUX2, "runner_id": "local-flux2", "purpose": "research"}
    first, again = decide(**fields), decide(**fields)
    assert first.decision_id == again.decision_id
    assert decide(**fields, date="2026-11-27").decision_id != first.decision_id
    assert decide(**fields, decision_id="from-the-caller").decision_id == "from-the-caller"


def test_provider_service_terms_replace_the_weight_grants_but_not_its_use_restrictions(
    decide: Decide,
) -> None:
    fields = {
        "tenant_id": "bigco",
        "model_id": FLUX2,
        "adapter_ids": [TURBO],
        "runner_id": "provider-flux2",
        "purpose": "commercial_product",
        "output_use": "sell",
    }
    allowed = decide(**fields)
    assert allowed.decision is Decision.ALLOW
    assert {e.license for e in allowed.effective_licenses if e.superseded} == {"flux-dev-ncl@2.0"}
    assert {r.license for r in allowed.reasons} == {"example-provider-terms@1"}
    restricted = decide(**fields, use_cases=["surveillance"])
    assert restricted.decision is Decision.DENY
    forbids = {(r.party.value, r.license, r.clause) for r in restricted.reasons if r.effect.value == "forbid"}
    assert ("tenant", "flux-dev-ncl@2.0", "§4(a)(iii)") in forbids


def test_a_charging_operator_is_a_licensee_even_on_a_provider_runner_without_terms(
    catalog: Catalog,
) -> None:
    runners = tuple(
        msgspec.structs.replace(r, service_terms=None) if r.id == "provider-flux2" else r
        for r in catalog.runners
    )
    agreements = tuple(a for a in catalog.agreements if a.holder != "operator")
    snapshot = CatalogSnapshot.build(msgspec.structs.replace(catalog, runners=runners, agreements=agreements))
    decision = evaluate(
        make_request(tenant_id="hobbyist", model_id=FLUX2, runner_id="provider-flux2", purpose="personal"),
        snapshot,
    )
    parties = {v.party.value: v for v in decision.parties}
    assert parties["tenant"].decision is Decision.ALLOW_WITH_OBLIGATIONS
    assert parties["operator"].purpose.value == "hosted_service"
    assert parties["operator"].decision is Decision.DENY  # it needs its own BFL license
    assert decision.decision is Decision.DENY
