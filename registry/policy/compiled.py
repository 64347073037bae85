"""A license document turned into lookup tables once per snapshot, so evaluation never scans."""

from __future__ import annotations

from dataclasses import dataclass, field

from registry.catalog.entries import UNKNOWN_LICENSE, LicenseDocument
from registry.policy.keys import Memo
from registry.policy.regions import expand_regions
from registry.terms import Condition, Grant, Obligation, OutputGrant
from registry.vocabulary import GrantStatus, OutputUse, Purpose, UseCase

PERMIT, REVIEW, FORBID = 0, 1, 2
"""Severities of a plan (the order of `Effect`: forbid beats review beats permit)."""


@dataclass(frozen=True, slots=True)
class GrantPlan:
    """A grant (or its absence) reduced to what evaluation needs: when `conditions` is empty the
    outcome is fixed (`severity`, `message`) and no profile is read."""

    clause: str
    severity: int
    message: str
    conditions: tuple[Condition, ...] = ()


def plan_grant(grant: Grant | OutputGrant | None, what: str) -> GrantPlan:
    if grant is None:
        return GrantPlan("default deny", FORBID, f"the license grants nothing for {what}")
    status = grant.status
    if status is GrantStatus.DENIED:
        return GrantPlan(grant.clause, FORBID, f"the license does not permit {what}")
    if status is GrantStatus.REQUIRES_AGREEMENT:
        return GrantPlan(grant.clause, FORBID, f"{what} needs a separate agreement with the licensor")
    if status is GrantStatus.CONFLICTING:
        return GrantPlan(grant.clause, REVIEW, f"the license text is contradictory about {what}")
    if grant.conditions:
        return GrantPlan(grant.clause, PERMIT, f"{what} is granted", grant.conditions)
    return GrantPlan(grant.clause, PERMIT, f"{what} is granted")


@dataclass(frozen=True, slots=True)
class CompiledLicense:
    document: LicenseDocument
    ref: str
    family: str
    unknown: bool
    """`unknown@0`: the catalog could not tell the license, so nothing is ever allowed on it."""
    grants: dict[Purpose, Grant]
    output_grants: dict[OutputUse, OutputGrant]
    plans: dict[Purpose, GrantPlan]
    """One plan per purpose, including the default deny of purposes the license does not grant."""
    output_plans: dict[OutputUse, GrantPlan]
    """Only for the output uses the license speaks about."""
    restricted: dict[UseCase, str]
    """Use case -> clause forbidding it."""
    obligations: dict[Purpose, tuple[Obligation, ...]]
    excluded_regions: frozenset[str]
    territory_clause: str | None
    territory_covers_outputs: bool
    inherits_to_adapters: bool
    inherits_to_finetunes: bool
    restrictions_propagate: bool
    readers: dict[tuple[str, str | None], object] = field(default_factory=dict, compare=False, hash=False)
    """What judging it reads of a party, per purpose and output use (`facts.license_reader`)."""
    judgements: Memo = field(default_factory=Memo, compare=False, hash=False)
    """A tenant's judgements of it that no agreement takes part in, shared by every stack it is
    part of (`judgement_memo.shared_tenant_judgement`)."""
    operator_judgements: Memo = field(default_factory=Memo, compare=False, hash=False)
    """The operator's judgements of it, by window of dates, shared by every stack it is part of
    while no agreement of the operator for it names artifacts (`judgement_memo.operator_judgement_of`)."""

    @classmethod
    def compile(cls, document: LicenseDocument) -> CompiledLicense:
        terms = document.terms
        derivatives = terms.derivatives
        # Unknown derivative terms are read as inheriting: the most restrictive reading wins.
        inherits = True if derivatives is None else derivatives.inherits
        territory = terms.territory
        return cls(
            document=document,
            ref=document.ref,
            family=document.family,
            unknown=document.ref == UNKNOWN_LICENSE,
            grants={grant.purpose: grant for grant in terms.grants},
            output_grants={grant.use: grant for grant in terms.outputs.grants},
            plans={p: plan_grant(terms.grant_for(p), f"{p.value} use") for p in Purpose},
            output_plans={
                g.use: plan_grant(g, f"{g.use.value} use of outputs") for g in terms.outputs.grants
            },
            restricted={r.use_case: r.clause for r in terms.use_restrictions},
            obligations={
                purpose: tuple(o for o in terms.obligations if not o.purposes or purpose in o.purposes)
                for purpose in Purpose
            },
            excluded_regions=expand_regions(territory.excluded) if territory else frozenset(),
            territory_clause=territory.clause if territory else None,
            territory_covers_outputs=bool(territory and territory.applies_to_outputs),
            inherits_to_adapters=inherits and (derivatives is None or derivatives.includes_adapters),
            inherits_to_finetunes=inherits,
            restrictions_propagate=derivatives is None or derivatives.restrictions_propagate,
        )
