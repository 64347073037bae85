"""What a license's judgement reads of a party, so a judgement can be remembered under exactly
those facts: two parties with equal facts get the same reasons, word for word.

A reader names the profile fields the grant and output conditions look at (revenue, users, core
business, organisation type), the registries whose registration they check, and whether the
territory (country and end-user regions) matters. Everything else a judgement reads (the party,
its purpose, whether it is paid or hosts for others, the output use, the use cases) is part of
every memo key already.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

from registry.catalog.entries import TenantProfile
from registry.policy.compiled import CompiledLicense, GrantPlan
from registry.policy.keys import plain
from registry.terms import (
    Condition,
    MauCap,
    OrganisationTypeCondition,
    RegistrationRequired,
    RevenueCap,
    TerritoryCondition,
)
from registry.vocabulary import OutputUse, Purpose

_READERS: dict[tuple[object, ...], FactReader] = {}


@dataclass(frozen=True, slots=True, eq=False)
class FactReader:
    """The profile facts some judgements depend on; `read` gives them as a hashable key."""

    fields: tuple[str, ...]
    registries: frozenset[str]
    territory: bool
    getter: Any
    """The fields' values of a profile (`fields`), or None when it reads none."""

    @classmethod
    def of(cls, fields: Iterable[str], registries: Iterable[str], territory: bool) -> FactReader:
        """One shared reader per distinct set of facts (there are few)."""
        names = tuple(sorted(set(fields)))
        key = (names, tuple(sorted(set(registries))), territory)
        found = _READERS.get(key)
        if found is None:
            get = attrgetter(*names) if names else None
            if "organisation_type" in names:  # a vocabulary member: keys hold its plain value
                get = _plain_getter(get)
            found = cls(names, frozenset(key[1]), territory, get)
            if len(_READERS) >= 4_096:
                _READERS.clear()
            _READERS[key] = found
        return found

    def merged(self, others: Iterable[FactReader]) -> FactReader:
        fields, registries, territory = set(self.fields), set(self.registries), self.territory
        for other in others:
            fields.update(other.fields)
            registries.update(other.registries)
            territory = territory or other.territory
        return FactReader.of(fields, registries, territory)

    def read(
        self, profile: TenantProfile, territory: object, registrations: Collection[str] | None = None
    ) -> tuple[object, ...]:
        """The facts as a key; `territory` stands for whatever the party's regions and country
        are made of (raw or expanded: equal values must always judge alike), `registrations`
        for the profile's (a set of them reads faster). The registries read that the party
        registered with are a sorted tuple (which the collector stops tracking, unlike a set:
        memo keys are kept long)."""
        get = self.getter
        registries = self.registries
        if registries:
            found = registries.intersection(profile.registrations if registrations is None else registrations)
            registered: tuple[str, ...] | None = tuple(sorted(found)) if found else ()
        else:
            registered = None
        return (
            get(profile) if get is not None else None,
            registered,
            territory if self.territory else None,
        )


def _plain_getter(get: Any) -> Any:
    return lambda profile: plain(get(profile))


NOTHING = FactReader.of((), (), False)


def _condition_facts(condition: Condition, fields: set[str], registries: set[str]) -> bool:
    """Adds what `conditions.judge_condition` reads of the profile; True when it reads territory."""
    if isinstance(condition, RevenueCap):
        fields.add("annual_revenue_usd")
    elif isinstance(condition, MauCap):
        fields.update(("monthly_active_users", "image_generation_core_business"))
    elif isinstance(condition, OrganisationTypeCondition):
        fields.add("organisation_type")
    elif isinstance(condition, RegistrationRequired):
        registries.add(condition.registry)
    elif isinstance(condition, TerritoryCondition):
        return True
    # NonProduction, NoPaymentReceived, NoThirdPartyHosting read only the party's purpose,
    # payment and hosting, which every key holds.
    return False


def _plan_facts(plan: GrantPlan | None, fields: set[str], registries: set[str]) -> bool:
    territory = False
    if plan is not None:
        for condition in plan.conditions:
            territory = _condition_facts(condition, fields, registries) or territory
    return territory


def license_reader(lic: CompiledLicense, purpose: Purpose, output_use: OutputUse | None) -> FactReader:
    """What `judge.judge_license_terms` reads of a party for this purpose and output use (an
    upper bound: it may read less, e.g. when a use restriction already forbids)."""
    found = lic.readers.get((purpose, output_use))
    if found is None:
        found = _license_reader(lic, purpose, output_use)
        lic.readers[(purpose.value, output_use.value if output_use is not None else None)] = found
    return found  # type: ignore[return-value]


def _license_reader(lic: CompiledLicense, purpose: Purpose, output_use: OutputUse | None) -> FactReader:
    if lic.unknown:
        return NOTHING
    fields: set[str] = set()
    registries: set[str] = set()
    territory = bool(lic.excluded_regions)
    territory = _plan_facts(lic.plans[purpose], fields, registries) or territory
    if output_use is not None:
        territory = territory or lic.territory_covers_outputs
        territory = _plan_facts(lic.output_plans.get(output_use), fields, registries) or territory
    return FactReader.of(fields, registries, territory)
