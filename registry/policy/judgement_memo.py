"""Judgements remembered on a license use, for the situations that repeat from one request to
the next: the operator's (the same party every time) and those that read nothing of the tenant.
A remembered judgement is reused only while the agreements it checked answer the same way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from registry.catalog.entries import Agreement
from registry.policy.agreements import ALWAYS, UsabilityWindow, usability_window
from registry.policy.decision import ObligationDue, Party, Reason
from registry.policy.judge import PERMIT_, Verdict, judge_license_terms
from registry.policy.snapshot import LicenseUse
from registry.vocabulary import OutputUse, UseCase


@dataclass(frozen=True, slots=True)
class Judgement:
    """What one license said about a party in one situation."""

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
    """All a license says about this party (see `_judge_license`), remembered on the license use
    where it repeats: the operator is the same party in every request; for a tenant, a judgement
    that reads nothing of the tenant (no condition, no territory, no agreement the tenant could
    hold for the license) is the same for every tenant. Other tenant judgements are not kept:
    there the whole decision is what repeats, which `PolicyEngine` remembers."""
    ctx = verdict.ctx
    if ctx.party is Party.OPERATOR:
        key: tuple[object, ...] = (ctx.key, use_cases, output_use, grants_apply)
    elif _reads_nothing_of_the_tenant(use, verdict, output_use, grants_apply):
        key = (ctx.party, ctx.purpose, use_cases, output_use, grants_apply)
    else:
        judge_license_terms(use, verdict, date, use_cases, output_use, grants_apply)
        return
    memo = use.memo
    found = memo.get(key)
    if found is not None:
        judgement: Judgement = found  # type: ignore[assignment]
        if judgement.window.holds(date, verdict.usage):
            replay(verdict, judgement)
            return
    reasons_before, obligations_before, worst_before = (
        len(verdict.reasons),
        len(verdict.obligations),
        verdict.worst,
    )
    outer = verdict.consulted
    consulted: list[Agreement] = []
    verdict.consulted = consulted
    verdict.worst = 0
    try:
        judge_license_terms(use, verdict, date, use_cases, output_use, grants_apply)
    finally:
        verdict.consulted = outer
    if outer is not None:
        outer.extend(consulted)
    reasons = tuple(verdict.reasons[reasons_before:])
    judgement = Judgement(
        reasons=reasons,
        obligations=tuple(verdict.obligations[obligations_before:]),
        agreements=tuple(dict.fromkeys(a for r in reasons for a in r.agreements if r.effect is PERMIT_)),
        worst=verdict.worst,
        window=usability_window(consulted, date, verdict.usage) if consulted else ALWAYS,
        consulted=tuple(consulted),
    )
    verdict.worst = max(worst_before, judgement.worst)
    if len(memo) >= _JUDGEMENTS_PER_USE:
        memo.clear()
    memo[key] = judgement


def _reads_nothing_of_the_tenant(
    use: LicenseUse, verdict: Verdict, output_use: OutputUse | None, grants_apply: bool
) -> bool:
    lic = use.license
    assert lic is not None
    if lic.unknown or not grants_apply:
        return True
    if lic.excluded_regions:
        return False
    plan = lic.plans[verdict.ctx.purpose]
    out_plan = lic.output_plans.get(output_use) if output_use is not None else None
    if plan.conditions or (out_plan is not None and out_plan.conditions):
        return False
    if not plan.severity and (out_plan is None or not out_plan.severity):
        return True  # permitted outright: no agreement is looked for
    index = verdict.index
    if lic.family in index.by_family:
        return False
    by_artifact = index.by_artifact
    return not by_artifact or all(by_artifact.keys().isdisjoint(c) for c in use.coverage)


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
