"""Judgements remembered on a license use, for the situations that repeat from one request to
the next: the operator's (the same party every time) and those that read nothing of the tenant.
A remembered judgement is reused only while the agreements it checked answer the same way."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from registry.catalog.entries import Agreement
from registry.policy.agreements import (
    ALWAYS,
    HolderAgreements,
    UsabilityWindow,
    could_cover,
    usability_window,
)
from registry.policy.conditions import PartyContext
from registry.policy.decision import ObligationDue, Party, Reason
from registry.policy.facts import FactReader, license_reader
from registry.policy.judge import PERMIT_, Verdict, judge_license_terms
from registry.policy.snapshot import LicenseUse
from registry.vocabulary import OutputUse, Purpose, UseCase


@dataclass(frozen=True, slots=True, eq=False)
class Judgement:
    """What one license (or a whole stack of them) said about a party in one situation; compared
    and hashed by identity, so remembered judgements can key further memos cheaply."""

    reasons: tuple[Reason, ...]
    obligations: tuple[ObligationDue, ...]
    agreements: tuple[str, ...]
    worst: int
    window: UsabilityWindow
    consulted: tuple[Agreement, ...]


_JUDGEMENTS_PER_USE = 512


def judge_license(
    use: LicenseUse,
    verdict: Verdict,
    date: dt.date,
    use_cases: frozenset[UseCase],
    output_use: OutputUse | None,
    grants_apply: bool = True,
) -> None:
    """`judgement_of`, added to the verdict."""
    replay(
        verdict,
        judgement_of(
            use, verdict.ctx, verdict.index, verdict.usage, date, use_cases, output_use, grants_apply
        ),
    )


def judgement_of(
    use: LicenseUse,
    ctx: PartyContext,
    index: HolderAgreements,
    usage: Mapping[str, int],
    date: dt.date,
    use_cases: frozenset[UseCase],
    output_use: OutputUse | None,
    grants_apply: bool = True,
) -> Judgement:
    """All a license says about this party (see `judge.judge_license_terms`), remembered on the
    license use where it repeats: the operator is the same party in every request; for a tenant
    whose agreements cannot change the judgement, it is the same for every tenant with the same
    facts (those its `FactReader` reads: a revenue, a registration, a country). Judgements that
    rely on a tenant's own agreements are made afresh."""
    if ctx.party is Party.OPERATOR:
        key: tuple[object, ...] | None = (ctx.key, use_cases, output_use, grants_apply)
    elif _agreements_never_matter(use, index, ctx.purpose, output_use, grants_apply):
        reader = _reader(use, ctx.purpose, output_use)
        key = (
            ctx.party,
            ctx.purpose,
            ctx.receives_payment,
            ctx.hosts_for_third_parties,
            use_cases,
            output_use,
            grants_apply,
            reader.read(ctx.profile, (ctx.regions, ctx.country_known)),
        )
    else:
        key = None
    memo = use.memo
    if key is not None:
        found = memo.get(key)
        if found is not None:
            judgement: Judgement = found  # type: ignore[assignment]
            if judgement.window.holds(date, usage):
                return judgement
    consulted: list[Agreement] = []
    verdict = Verdict(ctx, index, usage, consulted)
    judge_license_terms(use, verdict, date, use_cases, output_use, grants_apply)
    reasons = tuple(verdict.reasons)
    judgement = Judgement(
        reasons=reasons,
        obligations=tuple(verdict.obligations),
        agreements=tuple(dict.fromkeys(a for r in reasons for a in r.agreements if r.effect is PERMIT_)),
        worst=verdict.worst,
        window=usability_window(consulted, date, usage) if consulted else ALWAYS,
        consulted=tuple(consulted),
    )
    if key is not None:
        if len(memo) >= _JUDGEMENTS_PER_USE:
            memo.clear()
        memo[key] = judgement
    return judgement


def _reader(use: LicenseUse, purpose: Purpose, output_use: OutputUse | None) -> FactReader:
    key = ("reader", purpose, output_use)
    found = use.memo.get(key)
    if found is None:
        lic = use.license
        assert lic is not None
        found = use.memo[key] = license_reader(lic, purpose, output_use)
    return found  # type: ignore[return-value]


def _agreements_never_matter(
    use: LicenseUse,
    index: HolderAgreements,
    purpose: Purpose,
    output_use: OutputUse | None,
    grants_apply: bool,
) -> bool:
    """True when no agreement of the party can change this license's judgement: none covers it,
    or the license permits the use outright (no agreement is looked for). Then the judgement
    depends only on the facts its `FactReader` reads."""
    lic = use.license
    assert lic is not None
    if lic.unknown or not grants_apply:
        return True
    if not could_cover(index, lic.family, use.coverage, purpose):
        return True
    plan = lic.plans[purpose]
    if plan.conditions or plan.severity:
        return False
    out_plan = lic.output_plans.get(output_use) if output_use is not None else None
    return out_plan is None or not (out_plan.conditions or out_plan.severity)


def replay(verdict: Verdict, judgement: Judgement) -> None:
    """Add a remembered judgement to the verdict as if it had just been made."""
    verdict.reasons.extend(judgement.reasons)
    verdict.obligations.extend(judgement.obligations)
    for agreement_id in judgement.agreements:
        if agreement_id not in verdict.agreements:
            verdict.agreements.append(agreement_id)
    if judgement.worst > verdict.worst:
        verdict.worst = judgement.worst
    if verdict.consulted is not None:
        verdict.consulted.extend(judgement.consulted)
