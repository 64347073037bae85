"""Catalog entries for tiny local models (built with `runners.tiny`), for tests and the demo.

They stand in for real models under the real licenses: a tiny FLUX.2 pipeline under the FLUX
[dev] Non-Commercial License v2.0 with a Turbo-style adapter (8 steps, its sigma schedule), and a
tiny Stable Diffusion pipeline under CreativeML Open RAIL++-M. Every safetensors file is pinned
by sha256, so the runner verifies the bytes it loads exactly as it would for real weights.
"""

from __future__ import annotations

from typing import Any

import msgspec

from registry.catalog.entries import (
    Artifact,
    Catalog,
    InferenceSettings,
    LocalSource,
    SourceFile,
)
from registry.vocabulary import ArtifactKind, BaseRelation
from runners.task import ModelFamily
from runners.tiny import TinyModel, TinyModelSet

TINY_FLUX2 = "tiny/flux2-dev"
TINY_FLUX2_TURBO = "tiny/flux2-dev-turbo"
TINY_SD = "tiny/sd-openrail"
FLUX_DEV_NCL = "flux-dev-ncl@2.0"
OPENRAIL_PP_M = "creativeml-openrail-pp-m@2023-07-26"
TURBO_SIGMAS = (1.0, 0.6509, 0.4374, 0.2932, 0.1893, 0.1108, 0.0495, 0.00031)
"""The fal FLUX.2-dev Turbo LoRA's published schedule (as in the built-in catalog)."""


def _pinned_source(model: TinyModel) -> LocalSource:
    """Every weight file of a tiny pipeline, pinned by the sha256 it was written with."""
    files = tuple(SourceFile(name=n, sha256=h) for n, h in sorted(model.pipeline.weights.items()))
    return LocalSource(path=str(model.path), files=files)


def tiny_artifacts(models: TinyModelSet) -> tuple[Artifact, ...]:
    """Needs `models` built with the FLUX2 and SD1 families and at least one adapter each."""
    flux2 = models[ModelFamily.FLUX2]
    sd = models[ModelFamily.SD1]
    turbo = flux2.adapters[0]
    turbo_dir = turbo.source.path  # type: ignore[union-attr]
    tiny_size = InferenceSettings(steps=4, guidance=3.5, width=32, height=32, max_width=128, max_height=128)
    return (
        Artifact(
            id=TINY_FLUX2,
            kind=ArtifactKind.BASE_MODEL,
            name="Tiny FLUX.2 [dev] stand-in",
            license=FLUX_DEV_NCL,
            family=ModelFamily.FLUX2.value,
            source=_pinned_source(flux2),
            recommended=tiny_size,
            description="Random tiny weights with FLUX.2 [dev]'s architecture and license.",
        ),
        Artifact(
            id=TINY_FLUX2_TURBO,
            kind=ArtifactKind.ADAPTER,
            name="Tiny FLUX.2 [dev] Turbo-style LoRA",
            license=FLUX_DEV_NCL,
            family=ModelFamily.FLUX2.value,
            source=LocalSource(
                path=turbo_dir, files=(SourceFile(name=turbo.weight_name, sha256=turbo.sha256),)
            ),
            bases=(TINY_FLUX2,),
            base_relation=BaseRelation.ADAPTER,
            recommended=InferenceSettings(
                steps=len(TURBO_SIGMAS), guidance=2.5, sigmas=TURBO_SIGMAS, weight_name=turbo.weight_name
            ),
        ),
        Artifact(
            id=TINY_SD,
            kind=ArtifactKind.BASE_MODEL,
            name="Tiny Stable Diffusion stand-in (Open RAIL++-M)",
            license=OPENRAIL_PP_M,
            family=ModelFamily.SD1.value,
            source=_pinned_source(sd),
            recommended=InferenceSettings(
                steps=2, guidance=5.0, width=32, height=32, max_width=128, max_height=128
            ),
        ),
    )


def small_company_profile() -> dict[str, Any]:
    """A US company well under every revenue and user threshold, image generation not its core
    business: the profile of the sites' commercial tenants."""
    return {
        "organisation_type": "company",
        "country": "US",
        "end_user_regions": ["US"],
        "annual_revenue_usd": 300000,
        "monthly_active_users": 1000,
        "image_generation_core_business": False,
    }


def local_cpu_runner(runner_id: str, artifacts: list[str], **price_usd: float) -> dict[str, Any]:
    """A catalog runner entry that loads tiny artifacts in process on the CPU, one image at a
    time; `price_usd` is its price field (`price_per_image_usd=` or `price_per_megapixel_usd=`)."""
    return {
        "id": runner_id,
        "kind": "local_diffusers",
        "host": "operator",
        "artifacts": artifacts,
        **price_usd,
        "capacity": 1,
        "config": {"device": "cpu"},
    }


def bfl_flux_dev_agreement(
    agreement_id: str, holder: str, *, hosted_service: bool = False, **terms: Any
) -> dict[str, Any]:
    """A catalog agreement entry: a commercial agreement with Black Forest Labs covering the FLUX
    [dev] license family; the operator's also covers hosting it for tenants (`hosted_service`)."""
    purposes = ["commercial_internal", "commercial_product"]
    return {
        "id": agreement_id,
        "holder": holder,
        "licensor": "Black Forest Labs Inc.",
        "covers": {"license_families": ["flux-dev-ncl"]},
        "purposes": [*purposes, "hosted_service"] if hosted_service else purposes,
        "valid_from": "2025-01-01",
        **terms,
    }


HOBBY = "hobby"
"""An individual without agreements: FLUX [dev] non-commercial terms only."""
STUDIO = "studio"
"""A company with a BFL commercial agreement (quota 6 images a month, usage metering)."""
LOCAL_FLUX2 = "local-flux2"
PROVIDER_FLUX2 = "provider-flux2"
LOCAL_SD = "local-sd"
STUDIO_AGREEMENT = "studio-bfl-flux2"
BFL_USAGE_URL = "https://api.bfl.ai/v1/licenses/models/flux-2-dev/usage"


def _site(provider_url: str | None) -> dict[str, Any]:
    company = small_company_profile()
    return {
        "operator": {"id": "operator", "name": "Test operator", "profile": company, "charges_tenants": False},
        "tenants": [
            {
                "id": HOBBY,
                "name": "Hobbyist",
                "profile": {"organisation_type": "individual", "country": "US"},
            },
            {"id": STUDIO, "name": "Studio", "profile": company},
        ],
        "runners": [
            local_cpu_runner(LOCAL_FLUX2, [TINY_FLUX2, TINY_FLUX2_TURBO], price_per_image_usd=0.001),
            {
                "id": PROVIDER_FLUX2,
                "kind": "openai_images",
                "host": "provider",
                "provider": "loopback-images",
                "service_terms": "bfl-api-terms@1",
                "artifacts": [TINY_FLUX2],
                "endpoint": provider_url or "http://127.0.0.1:9/v1",
                "price_per_image_usd": 0.01,
                "capacity": 4,
            },
            local_cpu_runner(LOCAL_SD, [TINY_SD], price_per_megapixel_usd=0.5),
        ],
        "agreements": [
            bfl_flux_dev_agreement("operator-bfl-hosting", "operator", hosted_service=True),
            bfl_flux_dev_agreement(
                STUDIO_AGREEMENT,
                STUDIO,
                monthly_quota=6,
                obligations=[
                    {
                        "kind": "usage_metering",
                        "clause": "Self-Hosted Commercial License (usage reporting)",
                        "url": BFL_USAGE_URL,
                    }
                ],
            ),
        ],
    }


def tiny_site_catalog(models: TinyModelSet, *, provider_url: str | None = None) -> Catalog:
    """The tiny artifacts with an operator, two tenants and runners, to load beside the built-in
    catalog: `hobby` (an individual, no agreement) and `studio` (a company with a BFL commercial
    agreement, quota 6 images a month, usage metering); `local-flux2` and `local-sd` run in
    process; `provider-flux2` (only with `provider_url`, an OpenAI-Images-compatible endpoint)
    serves the tiny FLUX.2 model under BFL's API terms, which include commercial use."""
    site = msgspec.convert(_site(provider_url), Catalog)
    runners = tuple(r for r in site.runners if provider_url is not None or r.id != PROVIDER_FLUX2)
    return msgspec.structs.replace(site, artifacts=tiny_artifacts(models), runners=runners)
