"""The demo's site catalog: who operates, who calls, what they signed, what runs where.

The demo operator does not charge its tenants (someone trying Clearance on their own machine;
nobody pays), so its own purpose is non-commercial hosting. It still holds an agreement with
Black Forest Labs: serving FLUX.2 [dev] weights for a tenant's commercial product is commercial
use of the model by the host as well (FLUX [dev] NCL §2(b), §4(a)(i)), and the policy engine
refuses it for the operator without one, whatever the tenant signed. With that agreement in
place, the tenant's own agreement decides: the hobbyist's commercial request is refused with
the clause and alternatives, the studio's is served. An operator that charges would declare
`charges_tenants: true`; the same operator agreement covers its hosted service.
"""

from __future__ import annotations

from typing import Any

import msgspec

from gateway.jobs.tiny_catalog import (
    TINY_FLUX2,
    TINY_FLUX2_TURBO,
    TINY_SD,
    bfl_flux_dev_agreement,
    local_cpu_runner,
    small_company_profile,
    tiny_artifacts,
)
from registry.catalog.entries import Catalog
from runners.tiny import TinyModelSet

HOBBY = "demo-hobby"
"""An individual without agreements: the FLUX [dev] non-commercial terms alone."""
STUDIO = "demo-studio"
"""A company with a commercial agreement with Black Forest Labs covering FLUX.2 [dev]."""
STUDIO_AGREEMENT = "demo-studio-bfl-commercial"
OPERATOR_AGREEMENT = "demo-operator-bfl-hosting"
LOCAL_FLUX2 = "demo-local-flux2"
LOCAL_SD = "demo-local-sd"


def _site() -> dict[str, Any]:
    return {
        "operator": {
            "id": "operator",
            "name": "Demo operator (your machine)",
            "profile": {"organisation_type": "individual", "country": "US"},
            "charges_tenants": False,
        },
        "tenants": [
            {
                "id": HOBBY,
                "name": "Demo hobbyist",
                "profile": {"organisation_type": "individual", "country": "US"},
                "default_purpose": "personal",
            },
            {
                "id": STUDIO,
                "name": "Demo studio",
                "profile": small_company_profile(),
                "default_purpose": "commercial_product",
            },
        ],
        "agreements": [
            bfl_flux_dev_agreement(OPERATOR_AGREEMENT, "operator", hosted_service=True),
            bfl_flux_dev_agreement(STUDIO_AGREEMENT, STUDIO, monthly_quota=1000),
        ],
        "runners": [
            local_cpu_runner(LOCAL_FLUX2, [TINY_FLUX2, TINY_FLUX2_TURBO], price_per_image_usd=0.0),
            local_cpu_runner(LOCAL_SD, [TINY_SD], price_per_image_usd=0.0),
        ],
    }


def demo_catalog(models: TinyModelSet) -> Catalog:
    site = msgspec.convert(_site(), Catalog)
    return msgspec.structs.replace(site, artifacts=tiny_artifacts(models))
