"""Each condition kind of registry/terms.py judged against one party: satisfied, failed (the
grant does not hold) or undecidable because a profile fact the terms depend on is missing."""

from __future__ import annotations

from enum import IntEnum

from registry.catalog.entries import TenantProfile
from registry.policy.decision import Party
from registry.policy.keys import plain
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
from registry.vocabulary import COMMERCIAL_PURPOSES, Purpose

NON_PRODUCTION_PURPOSES = frozenset(
    {Purpose.PERSONAL, Purpose.RESEARCH, Purpose.INTERNAL_EVALUATION, Purpose.CHARITABLE}
)


class Outcome(IntEnum):
    """Ordered by severity so the worst of several is `max`."""

    MET = 0
    MISSING_FACT = 1
    FAILED = 2


MET, MISSING_FACT, FAILED = Outcome.MET, Outcome.MISSING_FACT, Outcome.FAILED
_OPERATOR = Party.OPERATOR


class PartyContext:
    """One licensee as the terms see it for this request (read-only by convention; a plain slots
    class because it is built twice per decision)."""

    __slots__ = (
        "_key",
        "country_known",
        "holder",
        "hosts_for_third_parties",
        "party",
        "profile",
        "purpose",
        "receives_payment",
        "regions",
    )

    def __init__(
        self,
        *,
        party: Party,
        holder: str,
        purpose: Purpose,
        profile: TenantProfile,
        regions: frozenset[str],
        country_known: bool,
        receives_payment: bool,
        hosts_for_third_parties: bool,
    ) -> None:
        self.party = party
        self.holder = holder
        self.purpose = purpose
        self.profile = profile
        self.regions = regions
        """Expanded country and end-user regions; empty when none is declared."""
        self.country_known = country_known
        self.receives_payment = receives_payment
        """Payment arising from the use: a commercial purpose, or an operator charging its tenants."""
        self.hosts_for_third_parties = hosts_for_third_parties

        self._key: tuple[object, ...] | None = None

    @property
    def key(self) -> tuple[object, ...]:
        """Everything a license's judgement reads from the party, as plain values (`keys`)."""
        key = self._key
        if key is None:
            key = self._key = plain(
                (
                    self.party,
                    self.holder,
                    self.purpose,
                    self.regions,
                    self.country_known,
                    self.receives_payment,
                    self.hosts_for_third_parties,
                    self.profile,
                )
            )
        return key


def judge_condition(condition: Condition, ctx: PartyContext) -> tuple[Outcome, str]:
    """The outcome and a sentence explaining it."""
    profile = ctx.profile
    if isinstance(condition, RevenueCap):
        revenue = profile.annual_revenue_usd
        cap = condition.max_usd
        if revenue is None:
            return MISSING_FACT, f"annual revenue is not declared; the license caps it at USD {cap:,}"
        if revenue <= cap:
            return MET, f"annual revenue USD {revenue:,.0f} (with affiliates) is within USD {cap:,}"
        if not condition.includes_affiliates:
            return (
                MISSING_FACT,
                f"revenue with affiliates USD {revenue:,.0f} exceeds USD {cap:,}; "
                "the cap counts the licensee alone, which the profile does not state",
            )
        return FAILED, f"annual revenue USD {revenue:,.0f} (with affiliates) exceeds USD {cap:,}"
    if isinstance(condition, MauCap):
        users = profile.monthly_active_users
        cap = condition.max_users
        if condition.only_if_core_business:
            core = profile.image_generation_core_business
            if core is False:
                return MET, "image generation is not the core business, so the user cap does not bind"
            if users is not None and users <= cap:
                return MET, f"{users:,} monthly active users is within {cap:,}"
            if core is None:
                return MISSING_FACT, "whether image generation is the core business is not declared"
        if users is None:
            return (
                MISSING_FACT,
                f"monthly active users are not declared; the license caps them at {cap:,}",
            )
        if users <= cap:
            return MET, f"{users:,} monthly active users is within {cap:,}"
        return FAILED, f"{users:,} monthly active users exceeds {cap:,}"
    if isinstance(condition, TerritoryCondition):
        return _judge_territory(condition, ctx)
    if isinstance(condition, NonProduction):
        if ctx.purpose in NON_PRODUCTION_PURPOSES and not ctx.receives_payment:
            return MET, f"{ctx.purpose.value} use is non-production"
        return FAILED, f"{ctx.purpose.value} use is production use"
    if isinstance(condition, NoPaymentReceived):
        if ctx.receives_payment:
            who = "the operator charges its tenants" if ctx.party is _OPERATOR else "the use is commercial"
            return FAILED, f"payment arises from the use: {who}"
        return MET, "nobody receives payment arising from the use"
    if isinstance(condition, OrganisationTypeCondition):
        kind = profile.organisation_type
        allowed = ", ".join(t.value for t in condition.allowed)
        if kind is None:
            return (
                MISSING_FACT,
                f"organisation type is not declared; the grant needs one of {allowed}",
            )
        if kind in condition.allowed:
            return MET, f"organisation type {kind.value} is one of {allowed}"
        return FAILED, f"organisation type {kind.value} is not one of {allowed}"
    if isinstance(condition, RegistrationRequired):
        if condition.registry in profile.registrations:
            return MET, f"registered with {condition.registry}"
        where = f" at {condition.url}" if condition.url else ""
        return FAILED, f"not registered with {condition.registry}; register{where} first"
    if isinstance(condition, NoThirdPartyHosting):
        if ctx.hosts_for_third_parties:
            return FAILED, "third parties would use the model through a hosted service"
        return MET, "no third party uses the model through a hosted service"
    raise AssertionError(f"unhandled condition {type(condition).__name__}")  # pragma: no cover


def _judge_territory(condition: TerritoryCondition, ctx: PartyContext) -> tuple[Outcome, str]:
    hit = ctx.regions & expand_regions(condition.excluded)
    if hit:
        return FAILED, f"used in excluded territory {', '.join(sorted(hit))}"
    if condition.allowed:
        allowed = expand_regions(condition.allowed)
        outside = {r for r in ctx.regions if r not in allowed and r != "EU"}
        if outside:
            return FAILED, f"used outside the allowed territory: {', '.join(sorted(outside))}"
    if not ctx.country_known:
        return MISSING_FACT, "the licensee's country is not declared; the license limits territory"
    return MET, "used only in permitted territory"


def is_commercial(purpose: Purpose) -> bool:
    return purpose in COMMERCIAL_PURPOSES
