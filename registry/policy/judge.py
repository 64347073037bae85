"""Judging one party (tenant or operator) against the licenses of a request.

Each license speaks through reasons: use restrictions and territory forbid whatever the purpose;
the grant for the party's purpose permits, forbids or asks for review depending on its status and
conditions; a usable agreement covering the license turns a grant that does not hold into a
permit; output terms are judged apart from weight terms; creator flags can only narrow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from registry.catalog.entries import Agreement
from registry.policy.agreements import HolderAgreements, covering_agreement
from registry.policy.compiled import GrantPlan
from registry.policy.conditions import MET, PartyContext, judge_condition
from registry.policy.decision import Effect, ObligationDue, Party, Reason
from registry.policy.keys import PLAIN, keep, recall_kept
from registry.policy.snapshot import MEMO_PER_USE, LicenseUse
from registry.vocabulary import Decision, OutputUse, Purpose, UseCase

PERMIT_, REVIEW_, FORBID_ = Effect.PERMIT, Effect.REVIEW, Effect.FORBID
_EFFECTS = (PERMIT_, REVIEW_, FORBID_)
_SEVERITY = {PERMIT_: 0, REVIEW_: 1, FORBID_: 2}
_UNKNOWN_MESSAGE = "the license could not be determined; a person must review it before any use"


class Verdict:
    """Reasons, obligations and agreements gathered for one party; `worst` is the strongest effect."""

    __slots__ = ("agreements", "consulted", "ctx", "index", "obligations", "reasons", "usage", "worst")

    def __init__(
        self,
        ctx: PartyContext,
        index: HolderAgreements,
        usage: Mapping[str, int],
        consulted: list[int] | None = None,
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

    def decision(self, strict: bool) -> Decision:
        if self.worst == 2 or (self.worst == 1 and strict):
            return Decision.DENY
        if self.worst == 1:
            return Decision.NEEDS_REVIEW
        return Decision.ALLOW_WITH_OBLIGATIONS if self.obligations else Decision.ALLOW


def judge_license_terms(
    use: LicenseUse,
    verdict: Verdict,
    date: dt.date,
    use_cases: frozenset[UseCase],
    output_use: OutputUse | None,
    grants_apply: bool = True,
) -> None:
    """All a license says about this party, judged afresh (`judgement_memo` remembers what
    repeats); `grants_apply` False keeps only its use restrictions (weights hosted by a provider
    under its own service terms); `output_use` None skips output terms (the operator does not use
    outputs)."""
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
    key = ("permit", PLAIN[party], clause, why)
    reason: Reason | None = recall_kept(use.memo, key)
    if reason is None:
        reason = Reason(
            party=party, effect=PERMIT_, clause=clause, message=why, license=use.ref, artifacts=use.artifacts
        )
        keep(use.memo, key, reason, MEMO_PER_USE)
    verdict.reasons.append(reason)


def _obligations_due(use: LicenseUse, party: Party, purpose: Purpose) -> tuple[ObligationDue, ...]:
    key = ("obligations", PLAIN[party], PLAIN[purpose])
    found: tuple[ObligationDue, ...] | None = recall_kept(use.memo, key)
    if found is None:
        lic = use.license
        assert lic is not None
        found = tuple(
            ObligationDue(party=party, kind=o.kind, clause=o.clause, license=use.ref, text=o.text, url=o.url)
            for o in lic.obligations[purpose]
        )
        keep(use.memo, key, found, MEMO_PER_USE)
    return found


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
    worst = MET
    messages: list[str] = []
    for condition in plan.conditions:
        outcome, message = judge_condition(condition, ctx)
        if outcome > worst:
            worst = outcome
            messages = [message]
        elif outcome == worst:
            messages.append(message)
    text = "; ".join(messages)
    return int(worst), (f"{plan.message}: {text}" if worst is MET else text)


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
    ids = tuple([a.id for a in found])  # from a list: faster than a generator
    verdict.add(
        PERMIT_,
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
