"""The shape of a decision: errors deny, effective licenses explain themselves, runner choice,
alternatives for a deny, deterministic decision ids."""

from __future__ import annotations

import msgspec
import pytest
from conftest import Decide, make_request

from registry.catalog.entries import Artifact, Catalog
from registry.policy import AppliedVia, CatalogSnapshot, evaluate, evaluate_runners
from registry.vocabulary import ArtifactKind, Decision

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


def test_without_runner_every_candidate_is_judged_and_the_best_returned(
    decide: Decide, snapshot: CatalogSnapshot
) -> None:
    request = make_request(tenant_id="acme", model_id=FLUX2, purpose="research")
    per_runner = evaluate_runners(request, snapshot)
    assert [d.runner_id for d in per_runner] == ["local-flux2"]  # fal's built-in runner is disabled
    assert evaluate(request, snapshot).runner_id == "local-flux2"


def test_a_deny_offers_permitted_alternatives_best_first(decide: Decide) -> None:
    decision = decide(tenant_id="bigco", model_id=FLUX2, adapter_ids=[TURBO], purpose="commercial_product")
    assert decision.decision is Decision.DENY
    assert decision.alternatives
    assert all(a.decision in (Decision.ALLOW, Decision.ALLOW_WITH_OBLIGATIONS) for a in decision.alternatives)
    ranks = [
        (a.decision is not Decision.ALLOW, a.family != "flux2", a.obligations) for a in decision.alternatives
    ]
    assert ranks == sorted(ranks)
    assert FLUX2 not in {a.model_id for a in decision.alternatives}
    none = decide(
        tenant_id="bigco",
        model_id=FLUX2,
        adapter_ids=[TURBO],
        purpose="commercial_product",
        max_alternatives=0,
    )
    assert none.alternatives == ()


def test_decision_id_is_deterministic_or_chosen(decide: Decide) -> None:
    fields = {"tenant_id": "acme", "model_id": FLUX2, "runner_id": "local-flux2", "purpose": "research"}
    first, again = decide(**fields), decide(**fields)
    assert first.decision_id == again.decision_id
    assert decide(**fields, date="2026-11-27").decision_id != first.decision_id
    assert decide(**fields, decision_id="from-the-caller").decision_id == "from-the-caller"
