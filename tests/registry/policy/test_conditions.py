"""Every condition kind of registry/terms.py, judged against a party: met, failed, or a missing
profile fact (which makes the decision `needs_review`, never a silent allow)."""

from __future__ import annotations

import pytest

from registry.catalog.entries import TenantProfile
from registry.policy.conditions import Outcome, PartyContext, judge_condition
from registry.policy.decision import Party
from registry.policy.regions import expand_regions
from registry.terms import (
    Condition,
    MauCap,
    NonProduction,
    NoPaymentReceived,
    NoThirdPartyHosting,
    OrganisationTypeCondition,
    RegistrationRequired,
    RevenueCap,
    TerritoryCondition,
)
from registry.vocabulary import OrganisationType, Purpose


def _ctx(
    party: Party = Party.TENANT,
    purpose: Purpose = Purpose.COMMERCIAL_PRODUCT,
    regions: tuple[str, ...] = ("US",),
    hosts: bool = False,
    **profile: object,
) -> PartyContext:
    built = TenantProfile(**profile)  # type: ignore[arg-type]
    return PartyContext(
        party=party,
        holder="t",
        purpose=purpose,
        profile=built,
        regions=expand_regions((*regions, *((built.country,) if built.country else ()))),
        country_known=built.country is not None,
        receives_payment=purpose
        in (Purpose.COMMERCIAL_PRODUCT, Purpose.COMMERCIAL_INTERNAL, Purpose.HOSTED_SERVICE)
        or party is Party.OPERATOR,
        hosts_for_third_parties=hosts,
    )


REVENUE = RevenueCap(clause="c", max_usd=1_000_000)
REVENUE_ALONE = RevenueCap(clause="c", max_usd=1_000_000, includes_affiliates=False)
MAU = MauCap(clause="c", max_users=1_000_000)
MAU_CORE = MauCap(clause="c", max_users=1_000_000, only_if_core_business=True)
EU_OUT = TerritoryCondition(clause="c", excluded=("EU", "GB"))
ONLY_US = TerritoryCondition(clause="c", allowed=("US", "CA"))

CASES: list[tuple[str, Condition, PartyContext, Outcome]] = [
    ("revenue within cap", REVENUE, _ctx(annual_revenue_usd=999_999), Outcome.MET),
    ("revenue at cap", REVENUE, _ctx(annual_revenue_usd=1_000_000), Outcome.MET),
    ("revenue with affiliates above cap", REVENUE, _ctx(annual_revenue_usd=1_000_001), Outcome.FAILED),
    ("revenue undeclared", REVENUE, _ctx(), Outcome.MISSING_FACT),
    ("own revenue cap, group above it", REVENUE_ALONE, _ctx(annual_revenue_usd=2e6), Outcome.MISSING_FACT),
    ("mau within", MAU, _ctx(monthly_active_users=10), Outcome.MET),
    ("mau above", MAU, _ctx(monthly_active_users=2_000_000), Outcome.FAILED),
    ("mau undeclared", MAU, _ctx(), Outcome.MISSING_FACT),
    ("core-business cap, not core", MAU_CORE, _ctx(image_generation_core_business=False), Outcome.MET),
    ("core-business cap, core, above", MAU_CORE,
     _ctx(image_generation_core_business=True, monthly_active_users=2_000_000), Outcome.FAILED),
    ("core-business cap, core unknown, small", MAU_CORE, _ctx(monthly_active_users=5), Outcome.MET),
    ("core-business cap, core unknown, users unknown", MAU_CORE, _ctx(), Outcome.MISSING_FACT),
    ("territory fine", EU_OUT, _ctx(country="US"), Outcome.MET),
    ("territory: member state of an excluded EU", EU_OUT, _ctx(country="FR", regions=()), Outcome.FAILED),
    ("territory: end users in the UK", EU_OUT, _ctx(country="US", regions=("GB",)), Outcome.FAILED),
    ("territory: country undeclared", EU_OUT, _ctx(regions=()), Outcome.MISSING_FACT),
    ("allowed territory only", ONLY_US, _ctx(country="US", regions=("CA",)), Outcome.MET),
    ("outside allowed territory", ONLY_US, _ctx(country="US", regions=("JP",)), Outcome.FAILED),
    ("non-production research", NonProduction(clause="c"), _ctx(purpose=Purpose.RESEARCH), Outcome.MET),
    ("production", NonProduction(clause="c"), _ctx(purpose=Purpose.COMMERCIAL_INTERNAL), Outcome.FAILED),
    ("no payment, personal", NoPaymentReceived(clause="c"), _ctx(purpose=Purpose.PERSONAL), Outcome.MET),
    ("payment, commercial", NoPaymentReceived(clause="c"), _ctx(), Outcome.FAILED),
    ("payment, charging operator", NoPaymentReceived(clause="c"),
     _ctx(party=Party.OPERATOR, purpose=Purpose.PERSONAL), Outcome.FAILED),
    ("organisation allowed", OrganisationTypeCondition(clause="c", allowed=(OrganisationType.NONPROFIT,)),
     _ctx(organisation_type=OrganisationType.NONPROFIT), Outcome.MET),
    ("organisation not allowed", OrganisationTypeCondition(clause="c", allowed=(OrganisationType.NONPROFIT,)),
     _ctx(organisation_type=OrganisationType.COMPANY), Outcome.FAILED),
    ("organisation undeclared", OrganisationTypeCondition(clause="c", allowed=(OrganisationType.NONPROFIT,)),
     _ctx(), Outcome.MISSING_FACT),
    ("registered", RegistrationRequired(clause="c", registry="stability-ai"),
     _ctx(registrations=("stability-ai",)), Outcome.MET),
    ("not registered", RegistrationRequired(clause="c", registry="stability-ai"), _ctx(), Outcome.FAILED),
    ("no hosting for others", NoThirdPartyHosting(clause="c"), _ctx(), Outcome.MET),
    ("hosting for others", NoThirdPartyHosting(clause="c"), _ctx(hosts=True), Outcome.FAILED),
]  # fmt: skip


@pytest.mark.parametrize(("name", "condition", "ctx", "expected"), CASES, ids=[c[0] for c in CASES])
def test_condition(name: str, condition: Condition, ctx: PartyContext, expected: Outcome) -> None:
    outcome, message = judge_condition(condition, ctx)
    assert outcome is expected
    assert message
