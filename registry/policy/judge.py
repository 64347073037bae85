"""Judging one party (tenant or operator) against the licenses of a request.

Each license speaks through reasons: use restrictions and territory forbid whatever the purpose;
the grant for the party's purpose permits, forbids or asks for review depending on its status and
conditions; a usable agreement covering the license turns a grant that does not hold into a
permit; output terms are judged apart from weight terms; creator flags can only narrow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from registry.catalog.entries import Agreement, CreatorPermissions
from registry.policy.agreements import (
    ALWAYS,
    HolderAgreements,
    UsabilityWindow,
    covering_agreement,
    usability_window,
)
from registry.policy.compiled import GrantPlan
from registry.policy.conditions import Outcome, PartyContext, judge_condition
from registry.policy.decision import Effect, ObligationDue, Party, Reason
from registry.policy.snapshot import LicenseUse
from registry.vocabulary import (
    COMMERCIAL_PURPOSES,
    CivitaiCommercialUse,
    Decision,
    ObligationKind,
    OutputUse,
    Purpose,
    UseCase,
)

PERMIT_, REVIEW_, FORBID_ = Effect.PERMIT, Effect.REVIEW, Effect.FORBID
_EFFECTS = (PERMIT_, REVIEW_, FORBID_)
_SEVERITY = {PERMIT_: 0, REVIEW_: 1, FORBID_: 2}
_UNKNOWN_MESSAGE = "the license could not be determined; a person must review it before any use"
CREATOR_CLAUSE = "Civitai creator permissions"


class Verdict:
    """Reasons, obligations and agreements gathered for one party; `worst` is the strongest effect."""

    __slots__ = ("agreements", "consulted", "ctx", "index", "obligations", "reasons", "usage", "worst")

    def __init__(
        self,
        ctx: PartyContext,
        index: HolderAgreements,
        usage: Mapping[str, int],
        consulted: list[Agreement] | None = None,
    ) -> None:
        self.consulted = consulted
        """When given, every agreement whose usability was checked is appended: the decision
        depends on the date and usage only through them (what `PolicyEngine` relies on)."""
        self.ctx = ctx
        self.index = index
        self.usage = usage
        self.reasons: list[Reason] = []
        self.obligations: list[ObligationDue] = []
        self.agreements: list[str] = []
        self.worst = 0

    def add(
        self,
        effect: Effect,
        clause: str,
        message: str,
        license_: str | None = None,
        artifacts: tuple[str, ...] = (),
        agreements: tuple[str, ...] = (),
    ) -> None:
        self.reasons.append(
            Reason(
                party=self.ctx.party,
                effect=effect,
                clause=clause,
                message=message,
                license=license_,
                artifacts=artifacts,
                agreements=agreements,
            )
        )
        severity = _SEVERITY[effect]
        if severity > self.worst:
            self.worst = severity

    def replay(self, judgement: Judgement) -> None:
        self.reasons.extend(judgement.reasons)
        self.obligations.extend(judgement.obligations)
        for agreement_id in judgement.agreements:
            if agreement_id not in self.agreements:
                self.agreements.append(agreement_id)
        if judgement.worst > self.worst:
            self.worst = judgement.worst
        if self.consulted is not None:
            self.consulted.extend(judgement.consulted)

    def decision(self, strict: bool) -> Decision:
        if self.worst == 2 or (self.worst == 1 and strict):
            return Decision.DENY
        if self.worst == 1:
            return Decision.NEEDS_REVIEW
        return Decision.ALLOW_WITH_OBLIGATIONS if self.obligations else Decision.ALLOW


@dataclass(frozen=True, slots=True)
class Judgement:
    """What one license said about the operator, kept on the license use for the next request in
    the same situation: reused while the agreements it checked answer as they did."""

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
        _judge_license(use, verdict, date, use_cases, output_use, grants_apply)
        return
    memo = use.memo
    found = memo.get(key)
    if found is not None:
        judgement: Judgement = found  # type: ignore[assignment]
        if judgement.window.holds(date, verdict.usage):
            verdict.replay(judgement)
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
        _judge_license(use, verdict, date, use_cases, output_use, grants_apply)
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


def _judge_license(
    use: LicenseUse,
    verdict: Verdict,
    date: dt.date,
    use_cases: frozenset[UseCase],
    output_use: OutputUse | None,
    grants_apply: bool = True,
) -> None:
    """All a license says about this party; `grants_apply` False keeps only its use restrictions
    (weights hosted by a provider under its own service terms); `output_use` None skips output
    terms (the operator does not use outputs)."""
    lic = use.license
    assert lic is not None
    ctx = verdict.ctx
    if lic.unknown:
        verdict.add(REVIEW_, "unknown license", _UNKNOWN_MESSAGE, use.ref, use.artifacts)
        return
    if use_cases and use.restrictions_bind:
        for use_case in sorted(use_cases):
            clause = lic.restricted.get(use_case)
            if clause is not None:
                verdict.add(
                    FORBID_,
                    clause,
                    f"the license forbids use for {use_case}, whatever the purpose",
                    use.ref,
                    use.artifacts,
                )
    if not grants_apply:
        return
    if lic.excluded_regions:
        _judge_territory(use, verdict, for_outputs=False)
    purpose = ctx.purpose
    plan = lic.plans[purpose]
    if plan.conditions:
        severity, why = _judge_conditions(plan, ctx)
    else:
        severity, why = plan.severity, plan.message
    if severity:
        missing = _cure(use, verdict, date, plan.clause, why, "use")
        if missing is not None:
            verdict.add(_EFFECTS[severity], plan.clause, why + missing, use.ref, use.artifacts)
            return
    elif plan.conditions:
        verdict.add(PERMIT_, plan.clause, why, use.ref, use.artifacts)
    else:
        _add_static_permit(use, verdict, plan.clause, why)
    if lic.obligations[purpose]:
        verdict.obligations.extend(_obligations_due(use, ctx.party, purpose))
    if output_use is not None:
        if lic.territory_covers_outputs:
            _judge_territory(use, verdict, for_outputs=True)
        out_plan = lic.output_plans.get(output_use)
        if out_plan is not None:
            _judge_outputs(use, verdict, date, out_plan)


def _add_static_permit(use: LicenseUse, verdict: Verdict, clause: str, why: str) -> None:
    party = verdict.ctx.party
    key = ("permit", party, clause, why)
    reason = use.memo.get(key)
    if reason is None:
        reason = use.memo[key] = Reason(
            party=party, effect=PERMIT_, clause=clause, message=why, license=use.ref, artifacts=use.artifacts
        )
    verdict.reasons.append(reason)  # type: ignore[arg-type]


def _obligations_due(use: LicenseUse, party: Party, purpose: Purpose) -> tuple[ObligationDue, ...]:
    key = ("obligations", party, purpose)
    found = use.memo.get(key)
    if found is None:
        lic = use.license
        assert lic is not None
        found = use.memo[key] = tuple(
            ObligationDue(party=party, kind=o.kind, clause=o.clause, license=use.ref, text=o.text, url=o.url)
            for o in lic.obligations[purpose]
        )
    return found  # type: ignore[return-value]


def _judge_outputs(use: LicenseUse, verdict: Verdict, date: dt.date, plan: GrantPlan) -> None:
    if plan.conditions:
        severity, why = _judge_conditions(plan, verdict.ctx)
    else:
        severity, why = plan.severity, plan.message
    if severity:
        missing = _cure(use, verdict, date, plan.clause, why, "outputs")
        if missing is None:
            return
        why += missing
    if severity or plan.conditions:
        verdict.add(_EFFECTS[severity], plan.clause, why, use.ref, use.artifacts)
    else:
        _add_static_permit(use, verdict, plan.clause, why)


def _judge_territory(use: LicenseUse, verdict: Verdict, *, for_outputs: bool) -> None:
    lic = use.license
    assert lic is not None
    ctx = verdict.ctx
    clause = lic.territory_clause or "territory"
    what = "outputs may not be used" if for_outputs else "the license does not apply"
    hit = ctx.regions & lic.excluded_regions
    if hit:
        verdict.add(FORBID_, clause, f"{what} in {', '.join(sorted(hit))}", use.ref, use.artifacts)
    elif not ctx.country_known:
        verdict.add(
            REVIEW_,
            clause,
            f"the license excludes territories and the {ctx.party}'s country is not declared",
            use.ref,
            use.artifacts,
        )


def _judge_conditions(plan: GrantPlan, ctx: PartyContext) -> tuple[int, str]:
    worst = Outcome.MET
    messages: list[str] = []
    for condition in plan.conditions:
        outcome, message = judge_condition(condition, ctx)
        if outcome > worst:
            worst = outcome
            messages = [message]
        elif outcome == worst:
            messages.append(message)
    text = "; ".join(messages)
    return int(worst), (f"{plan.message}: {text}" if worst is Outcome.MET else text)


def _cure(use: LicenseUse, verdict: Verdict, date: dt.date, clause: str, why: str, what: str) -> str | None:
    """Permit through agreements covering every artifact the license applies to: None when it
    did, else a note on the agreements that cover it but cannot be used (or "")."""
    lic = use.license
    assert lic is not None
    ctx = verdict.ctx
    found: list[Agreement] = []
    unusable: list[str] = []
    for coverage in use.coverage:
        agreement = covering_agreement(
            verdict.index, lic.family, coverage, ctx.purpose, date, verdict.usage, unusable, verdict.consulted
        )
        if agreement is None:
            return f"; no usable agreement: {'; '.join(sorted(set(unusable)))}" if unusable else ""
        if agreement not in found:
            found.append(agreement)
    ids = tuple(a.id for a in found)
    verdict.add(
        Effect.PERMIT,
        clause,
        f"{what} permitted by agreement {', '.join(ids)} for {ctx.purpose.value} (license alone: {why})",
        use.ref,
        use.artifacts,
        ids,
    )
    for agreement in found:
        if agreement.id not in verdict.agreements:
            verdict.agreements.append(agreement.id)
        for obligation in agreement.obligations:
            if not obligation.purposes or ctx.purpose in obligation.purposes:
                verdict.obligations.append(
                    ObligationDue(
                        party=ctx.party,
                        kind=obligation.kind,
                        clause=obligation.clause,
                        license=use.ref,
                        agreement=agreement.id,
                        text=obligation.text,
                        url=obligation.url,
                    )
                )
    return None


def judge_creator(
    artifact_id: str,
    license_ref: str,
    permissions: CreatorPermissions,
    verdict: Verdict,
    output_use: OutputUse | None,
    operator_charges: bool,
) -> None:
    """Civitai flags: they never widen the license, only take away or add credit."""
    ctx = verdict.ctx
    uses = permissions.allow_commercial_use
    who = f" set by {permissions.creator}" if permissions.creator else ""

    def forbid(flag: str, message: str) -> None:
        verdict.add(Effect.FORBID, f"{CREATOR_CLAUSE}: {flag}", message + who, license_, (artifact_id,))

    license_ = license_ref
    if ctx.party is Party.OPERATOR:
        if operator_charges and CivitaiCommercialUse.RENT not in uses:
            forbid("allowCommercialUse", "the creator does not allow running it on a paid generation service")
        return
    if ctx.purpose in COMMERCIAL_PURPOSES and not uses:
        forbid("allowCommercialUse", "the creator allows no commercial use")
    elif ctx.purpose is Purpose.HOSTED_SERVICE and CivitaiCommercialUse.RENT not in uses:
        forbid("allowCommercialUse", "the creator does not allow offering it as a paid service")
    if output_use is OutputUse.SELL and CivitaiCommercialUse.IMAGE not in uses:
        forbid("allowCommercialUse", "the creator does not allow selling generated images")
    if ctx.purpose is Purpose.TRAIN_MODEL and not permissions.allow_derivatives:
        forbid("allowDerivatives", "the creator does not allow derivatives")
    if not permissions.allow_no_credit:
        verdict.obligations.append(
            ObligationDue(
                party=ctx.party,
                kind=ObligationKind.ATTRIBUTION,
                clause=f"{CREATOR_CLAUSE}: allowNoCredit",
                license=license_ref,
                text=f"Credit {permissions.creator or 'the creator'} for {artifact_id}",
            )
        )
