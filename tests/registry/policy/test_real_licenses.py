"""Table-driven decisions on the real license terms of the built-in catalog: one row per concept
of the engine, each naming the decision and the clauses it must cite."""

from __future__ import annotations

from typing import Any, NamedTuple

import pytest

from registry.policy import PolicyDecision
from tests.registry.policy.conftest import Decide

FLUX2 = "black-forest-labs/FLUX.2-dev"
TURBO = "fal/FLUX.2-dev-Turbo"
FLUX1 = "black-forest-labs/FLUX.1-dev"
SCHNELL = "black-forest-labs/FLUX.1-schnell"
SD35 = "stabilityai/stable-diffusion-3.5-large"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
HUNYUAN = "tencent/HunyuanImage-2.1"


class Case(NamedTuple):
    request: dict[str, Any]
    decision: str
    cites: tuple[tuple[str, str, str, str], ...] = ()
    """(party, effect, license ref, clause) that must appear among the reasons."""
    relied: tuple[str, ...] = ()


CASES: dict[str, Case] = {
    # --- grants per purpose and per-model agreements (tenant and operator) -------------------
    "flux2-turbo-commercial-without-agreement-denied": Case(
        dict(
            tenant_id="bigco",
            model_id=FLUX2,
            adapter_ids=[TURBO],
            runner_id="local-flux2",
            purpose="commercial_product",
        ),
        "deny",
        (("tenant", "forbid", "flux-dev-ncl@2.0", "§2(b), §4(a)(i)"),),
    ),
    "flux2-turbo-commercial-with-bfl-agreements-for-tenant-and-operator": Case(
        dict(
            tenant_id="acme",
            model_id=FLUX2,
            adapter_ids=[TURBO],
            runner_id="local-flux2",
            purpose="commercial_product",
            output_use="sell",
        ),
        "allow_with_obligations",
        (
            ("tenant", "permit", "flux-dev-ncl@2.0", "§2(b), §4(a)(i)"),
            ("tenant", "permit", "flux-dev-ncl@2.0", "§2(d) vs §4(a)(i)"),
            ("operator", "permit", "flux-dev-ncl@2.0", "§1(c) last sentence, §2(b), §4(a)(i)"),
        ),
        ("bfl-acme-flux2", "bfl-operator-flux2"),
    ),
    "flux2-personal-on-charging-operator-needs-operator-agreement-it-has": Case(
        dict(tenant_id="hobbyist", model_id=FLUX2, runner_id="local-flux2", purpose="personal"),
        "allow_with_obligations",
        (("tenant", "permit", "flux-dev-ncl@2.0", "§1(c)(i), §2(a)"),),
        ("bfl-operator-flux2",),
    ),
    "flux2-outputs-sold-non-commercially-are-contradictory": Case(
        dict(
            tenant_id="hobbyist",
            model_id=FLUX2,
            runner_id="local-flux2",
            purpose="personal",
            output_use="sell",
        ),
        "needs_review",
        (("tenant", "review", "flux-dev-ncl@2.0", "§2(d) vs §4(a)(i)"),),
    ),
    "flux2-outputs-to-train-a-competitor-denied": Case(
        dict(
            tenant_id="hobbyist",
            model_id=FLUX2,
            runner_id="local-flux2",
            purpose="research",
            output_use="train_competing_model",
        ),
        "deny",
        (("tenant", "forbid", "flux-dev-ncl@2.0", "§2(d)"),),
    ),
    # --- derivatives: a LoRA stays under its base's license whatever its own tag -------------
    "apache-tagged-flux1-dev-lora-on-schnell-stays-non-commercial": Case(
        dict(
            tenant_id="acme",
            model_id=SCHNELL,
            adapter_ids=["someone/flux1-dev-style-lora"],
            runner_id="local-flux1",
            purpose="commercial_product",
        ),
        "deny",
        (("tenant", "forbid", "flux-dev-ncl@1.1.1", "§2(b), §4(a)(i)"),),
    ),
    "two-levels-down-still-non-commercial": Case(
        dict(
            tenant_id="acme",
            model_id=SCHNELL,
            adapter_ids=["someone/flux1-dev-style-lora-v2"],
            runner_id="local-flux1",
            purpose="commercial_product",
        ),
        "deny",
        (("tenant", "forbid", "flux-dev-ncl@1.1.1", "§2(b), §4(a)(i)"),),
    ),
    "schnell-alone-commercial-allowed": Case(
        dict(
            tenant_id="acme",
            model_id=SCHNELL,
            runner_id="local-flux1",
            purpose="commercial_product",
            output_use="sell",
        ),
        "allow_with_obligations",
        (("tenant", "permit", "apache@2.0", "§2, §3"),),
    ),
    # --- use restrictions apply whatever the purpose -------------------------------------------
    "flux2-research-for-surveillance-denied": Case(
        dict(
            tenant_id="hobbyist",
            model_id=FLUX2,
            runner_id="local-flux2",
            purpose="research",
            use_cases=["surveillance"],
        ),
        "deny",
        (("tenant", "forbid", "flux-dev-ncl@2.0", "§4(a)(iii)"),),
    ),
    "sdxl-medical-advice-denied-even-personally": Case(
        dict(
            tenant_id="acme",
            model_id=SDXL,
            runner_id="local-sd",
            purpose="personal",
            use_cases=["medical_advice"],
        ),
        "deny",
        (
            (
                "tenant",
                "forbid",
                "creativeml-openrail-pp-m@2023-07-26",
                "Attachment A (medical advice and medical results interpretation)",
            ),
        ),
    ),
    "sdxl-commercial-must-propagate-restrictions": Case(
        dict(tenant_id="acme", model_id=SDXL, runner_id="local-sd", purpose="commercial_product"),
        "allow_with_obligations",
    ),
    # --- revenue caps with affiliates, registration, missing facts ----------------------------
    "sd35-under-1m-registered-allowed-with-powered-by": Case(
        dict(tenant_id="acme", model_id=SD35, runner_id="local-sd", purpose="commercial_product"),
        "allow_with_obligations",
        (
            (
                "tenant",
                "permit",
                "stability-ai-community@2024-07-05",
                "§III (Commercial Purpose (i): products and services)",
            ),
        ),
    ),
    "sd35-revenue-undeclared-needs-review": Case(
        dict(tenant_id="quiet", model_id=SD35, runner_id="local-sd", purpose="commercial_product"),
        "needs_review",
        (
            (
                "tenant",
                "review",
                "stability-ai-community@2024-07-05",
                "§III (Commercial Purpose (i): products and services)",
            ),
        ),
    ),
    "sd35-revenue-undeclared-strict-denied": Case(
        dict(
            tenant_id="quiet", model_id=SD35, runner_id="local-sd", purpose="commercial_product", strict=True
        ),
        "deny",
    ),
    "sd35-over-1m-denied": Case(
        dict(tenant_id="bigco", model_id=SD35, runner_id="local-sd", purpose="commercial_product"),
        "deny",
        (
            (
                "tenant",
                "forbid",
                "stability-ai-community@2024-07-05",
                "§III (Commercial Purpose (i): products and services)",
            ),
        ),
    ),
    "sd35-unregistered-denied": Case(
        dict(
            tenant_id="acme",
            model_id=SD35,
            runner_id="local-sd",
            purpose="commercial_product",
            profile_override={"country": "US", "annual_revenue_usd": 10000},
        ),
        "deny",
    ),
    "sd35-research-needs-no-registration": Case(
        dict(tenant_id="quiet", model_id=SD35, runner_id="local-sd", purpose="research"),
        "allow_with_obligations",
    ),
    # --- territory for weights and outputs ------------------------------------------------------
    "hunyuan-in-the-eu-denied": Case(
        dict(tenant_id="hobbyist", model_id=HUNYUAN, runner_id="local-other", purpose="personal"),
        "deny",
        (("tenant", "forbid", "tencent-hunyuan-community@hunyuanimage-2.1", "Preamble; §1(l); §2; §5(c)"),),
    ),
    "hunyuan-us-company-with-eu-end-users-denied": Case(
        dict(
            tenant_id="acme",
            model_id=HUNYUAN,
            runner_id="local-other",
            purpose="commercial_product",
            end_user_regions=["DE"],
        ),
        "deny",
    ),
    "hunyuan-us-company-allowed": Case(
        dict(tenant_id="acme", model_id=HUNYUAN, runner_id="local-other", purpose="commercial_product"),
        "allow_with_obligations",
    ),
    # --- MAU caps and core business --------------------------------------------------------------
    "playground-core-business-over-1m-users-denied": Case(
        dict(
            tenant_id="bigco",
            model_id="playgroundai/playground-v2.5-1024px-aesthetic",
            runner_id="local-sd",
            purpose="commercial_product",
            use_cases=[],
        ),
        "deny",
    ),
    "playground-not-core-business-allowed": Case(
        dict(
            tenant_id="acme",
            model_id="playgroundai/playground-v2.5-1024px-aesthetic",
            runner_id="local-sd",
            purpose="commercial_product",
        ),
        "allow_with_obligations",
    ),
    # --- NC research license: no third-party hosting, even free ---------------------------------
    "sdxl-turbo-hosted-by-operator-denied": Case(
        dict(
            tenant_id="hobbyist", model_id="stabilityai/sdxl-turbo", runner_id="local-sd", purpose="personal"
        ),
        "deny",
        (("operator", "forbid", "stability-ai-nc-research@2023-11-28", "§1(b)"),),
    ),
    # --- components ----------------------------------------------------------------------------
    "hidream-carries-its-llama-text-encoder-terms": Case(
        dict(
            tenant_id="acme",
            model_id="HiDream-ai/HiDream-I1-Full",
            runner_id="local-other",
            purpose="commercial_product",
        ),
        "allow_with_obligations",
        (("tenant", "permit", "llama-community@3.1", "§1(a); §1(b)(i); §2"),),
    ),
    "hidream-military-denied-by-the-component": Case(
        dict(
            tenant_id="acme",
            model_id="HiDream-ai/HiDream-I1-Full",
            runner_id="local-other",
            purpose="research",
            use_cases=["military"],
        ),
        "deny",
        (
            (
                "tenant",
                "forbid",
                "llama-community@3.1",
                "§1(b)(iv); Acceptable Use Policy 2(a) (military, warfare)",
            ),
        ),
    ),
    # --- creator permission flags only narrow ------------------------------------------------------
    "civitai-lora-without-rent-on-a-paid-gateway-denied": Case(
        dict(
            tenant_id="acme",
            model_id=SDXL,
            adapter_ids=["civitai/pixel-art-xl"],
            runner_id="local-sd",
            purpose="commercial_product",
            output_use="sell",
        ),
        "deny",
        (
            (
                "operator",
                "forbid",
                "creativeml-openrail-pp-m@2023-07-26",
                "Civitai creator permissions: allowCommercialUse",
            ),
        ),
    ),
    "civitai-lora-with-no-commercial-use-denied-to-tenant": Case(
        dict(
            tenant_id="acme",
            model_id=SDXL,
            adapter_ids=["civitai/no-commercial-xl"],
            runner_id="local-sd",
            purpose="commercial_internal",
        ),
        "deny",
        (
            (
                "tenant",
                "forbid",
                "creativeml-openrail-pp-m@2023-07-26",
                "Civitai creator permissions: allowCommercialUse",
            ),
        ),
    ),
    "civitai-lora-no-derivatives-train-denied": Case(
        dict(
            tenant_id="acme",
            model_id=SDXL,
            adapter_ids=["civitai/no-commercial-xl"],
            runner_id="local-sd",
            purpose="train_model",
        ),
        "deny",
        (
            (
                "tenant",
                "forbid",
                "creativeml-openrail-pp-m@2023-07-26",
                "Civitai creator permissions: allowDerivatives",
            ),
        ),
    ),
    # --- unknown license: never allow --------------------------------------------------------------
    "unknown-license-needs-review": Case(
        dict(tenant_id="acme", model_id="mystery/model", runner_id="local-sd", purpose="personal"),
        "needs_review",
        (("tenant", "review", "unknown@0", "unknown license"),),
    ),
    "unknown-license-strict-denied": Case(
        dict(
            tenant_id="acme", model_id="mystery/model", runner_id="local-sd", purpose="personal", strict=True
        ),
        "deny",
    ),
    # --- provider service terms on a runner ------------------------------------------------------
    "bfl-api-resold-by-a-charging-operator-is-not-granted": Case(
        dict(
            tenant_id="acme",
            model_id="bfl/flux-2-pro",
            runner_id="bfl-api-live",
            purpose="commercial_product",
            output_use="sell",
        ),
        "deny",
        (
            ("operator", "forbid", "bfl-api-terms@1", "default deny"),
            (
                "tenant",
                "permit",
                "bfl-api-terms@1",
                "BFL API terms (clause not recorded); commercial use believed included in the price",
            ),
        ),
    ),
}


def _cited(decision: PolicyDecision) -> set[tuple[str, str, str, str]]:
    return {(r.party.value, r.effect.value, r.license or "", r.clause) for r in decision.reasons}


@pytest.mark.parametrize("name", sorted(CASES))
def test_real_license_decision(name: str, decide: Decide) -> None:
    case = CASES[name]
    decision = decide(**case.request)
    assert decision.errors == ()
    assert decision.decision.value == case.decision, [
        (r.party, r.effect, r.clause, r.message) for r in decision.reasons
    ]
    missing = set(case.cites) - _cited(decision)
    assert not missing, sorted(_cited(decision))
    assert set(case.relied) <= set(decision.agreements_relied_on)
    if case.decision == "deny":
        assert decision.deciding_reasons()
        assert all(r.clause for r in decision.deciding_reasons())
