"""Judging one party (tenant or operator) against the licenses of a request.

Each license speaks through reasons: use restrictions and territory forbid whatever the purpose;
the grant for the party's purpose permits, forbids or asks for review depending on its status and
conditions; a usable agreement covering the license turns a grant that does not hold into a
permit; output terms are judged apart from weight terms; creator flags can only narrow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import msgspec

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
_NO_AGREEMENTS = HolderAgreements()
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

    def extend(self, reasons: tuple[Reason, ...], worst: int) -> None:
        """Reasons judged before (`LicenseSteps`), `worst` their strongest effect, as `add`
        would have added them."""
        self.reasons += reasons
        if worst > self.worst:
            self.worst = worst

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
    if not _judge_before_grant(use, verdict, use_cases, grants_apply):
        return
    plan, severity, why = _grant(use, verdict.ctx)
    if severity:
        if not _cured(use, verdict, date, plan, severity, why, "use"):
            return
    else:
        _add_granted(use, verdict, plan, why)
    purpose = verdict.ctx.purpose
    lic = use.license
    assert lic is not None
    if lic.obligations[purpose]:
        verdict.obligations.extend(_obligations_due(use, verdict.ctx.party, purpose))
    if output_use is not None:
        if lic.territory_covers_outputs:
            _judge_territory(use, verdict, for_outputs=True)
        out_plan = lic.output_plans.get(output_use)
        if out_plan is not None:
            _judge_outputs(use, verdict, date, out_plan)


class LicenseSteps(msgspec.Struct, frozen=True, gc=False):
    """What a license says about a party before any agreement is looked for, in the order
    `judge_license_terms` says it: the same for every party with the same facts (those of
    `facts.license_reader`), so judged once and replayed against each tenant's own agreements
    (`replay_license_terms`)."""

    ctx: PartyContext
    """The party the steps were judged for; a replay reads only its party and purpose, the same
    for every party with these facts."""
    before: tuple[Reason, ...]
    """An unknown license's review, use restrictions and territory: whatever the grant says."""
    before_worst: int
    grant: GrantPlan | None = None
    """The grant for the purpose; None for an unknown license, or one whose grants do not apply:
    `before` is then all it says."""
    grant_severity: int = 0
    grant_why: str = ""
    granted: tuple[Reason, ...] = ()
    """The grant's permit when it holds without an agreement (`grant_severity` 0)."""
    obligations: tuple[ObligationDue, ...] = ()
    """The license's obligations for the purpose, due once the grant holds."""
    outputs_before: tuple[Reason, ...] = ()
    """The territory clause read for outputs, once the grant holds."""
    outputs_before_worst: int = 0
    output: GrantPlan | None = None
    """The output term for the output use, if the license has one."""
    output_severity: int = 0
    output_why: str = ""
    output_granted: tuple[Reason, ...] = ()
    """The output term's permit when it holds without an agreement."""


def license_steps(
    use: LicenseUse,
    ctx: PartyContext,
    use_cases: frozenset[UseCase],
    output_use: OutputUse,
    grants_apply: bool,
) -> LicenseSteps:
    """`judge_license_terms` for `ctx` up to where it would look for an agreement, and past it as
    if the grant held (an agreement may make it hold)."""
    said = Verdict(ctx, _NO_AGREEMENTS, {})
    goes_on = _judge_before_grant(use, said, use_cases, grants_apply)
    before, before_worst = tuple(said.reasons), said.worst
    if not goes_on:
        return LicenseSteps(ctx, before, before_worst)
    lic = use.license
    assert lic is not None
    plan, severity, why = _grant(use, ctx)
    said = Verdict(ctx, _NO_AGREEMENTS, {})
    if not severity:
        _add_granted(use, said, plan, why)
    granted = tuple(said.reasons)
    purpose = ctx.purpose
    obligations = _obligations_due(use, ctx.party, purpose) if lic.obligations[purpose] else ()
    said = Verdict(ctx, _NO_AGREEMENTS, {})
    if lic.territory_covers_outputs:
        _judge_territory(use, said, for_outputs=True)
    outputs_before, outputs_before_worst = tuple(said.reasons), said.worst
    out_plan = lic.output_plans.get(output_use)
    out_severity, out_why = 0, ""
    out_granted: tuple[Reason, ...] = ()
    if out_plan is not None:
        out_severity, out_why = _outcome(out_plan, ctx)
        if not out_severity:
            said = Verdict(ctx, _NO_AGREEMENTS, {})
            _add_granted(use, said, out_plan, out_why)
            out_granted = tuple(said.reasons)
    return LicenseSteps(
        ctx,
        before,
        before_worst,
        grant=plan,
        grant_severity=severity,
        grant_why=why,
        granted=granted,
        obligations=obligations,
        outputs_before=outputs_before,
        outputs_before_worst=outputs_before_worst,
        output=out_plan,
        output_severity=out_severity,
        output_why=out_why,
        output_granted=out_granted,
    )


def replay_license_terms(use: LicenseUse, steps: LicenseSteps, verdict: Verdict, date: dt.date) -> None:
    """`judge_license_terms` from `steps` (judged for a party with the same facts as `verdict`'s),
    looking for agreements in `verdict.index`: only the grant and the output term that do not
    hold are judged again."""
    verdict.extend(steps.before, steps.before_worst)
    plan = steps.grant
    if plan is None:
        return
    severity = steps.grant_severity
    if severity:
        if not _cured(use, verdict, date, plan, severity, steps.grant_why, "use"):
            return
    else:
        verdict.reasons += steps.granted
    if steps.obligations:
        verdict.obligations.extend(steps.obligations)
    verdict.extend(steps.outputs_before, steps.outputs_before_worst)
    out_plan = steps.output
    if out_plan is None:
        return
    if steps.output_severity:
        _cured(use, verdict, date, out_plan, steps.output_severity, steps.output_why, "outputs")
    else:
        verdict.reasons += steps.output_granted


def _judge_before_grant(
    use: LicenseUse, verdict: Verdict, use_cases: frozenset[UseCase], grants_apply: bool
) -> bool:
    """An unknown license's review, use restrictions and the territory clause; False when
    nothing more is judged (an unknown license, or grants that do not apply)."""
    lic = use.license
    assert lic is not None
    if lic.unknown:
        verdict.add(REVIEW_, "unknown license", _UNKNOWN_MESSAGE, use.ref, use.artifacts)
        return False
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
        return False
    if lic.excluded_regions:
        _judge_territory(use, verdict, for_outputs=False)
    return True


def _grant(use: LicenseUse, ctx: PartyContext) -> tuple[GrantPlan, int, str]:
    """The license's grant for the party's purpose, its severity without agreements (0: it
    holds) and why."""
    lic = use.license
    assert lic is not None
    plan = lic.plans[ctx.purpose]
    severity, why = _outcome(plan, ctx)
    return plan, severity, why


def _outcome(plan: GrantPlan, ctx: PartyContext) -> tuple[int, str]:
    if plan.conditions:
        return _judge_conditions(plan, ctx)
    return plan.severity, plan.message


def _add_granted(use: LicenseUse, verdict: Verdict, plan: GrantPlan, why: str) -> None:
    """The permit of a grant or output term that holds."""
    if plan.conditions:
        verdict.add(PERMIT_, plan.clause, why, use.ref, use.artifacts)
    else:
        _add_static_permit(use, verdict, plan.clause, why)


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
    severity, why = _outcome(plan, verdict.ctx)
    if severity:
        _cured(use, verdict, date, plan, severity, why, "outputs")
    else:
        _add_granted(use, verdict, plan, why)


def _cured(
    use: LicenseUse, verdict: Verdict, date: dt.date, plan: GrantPlan, severity: int, why: str, what: str
) -> bool:
    """A grant or output term that does not hold (`severity`, `why`): permitted through the
    party's agreements (True), or said not to hold, with why no agreement could be used."""
    missing = _cure(use, verdict, date, plan.clause, why, what)
    if missing is None:
        return True
    verdict.add(_EFFECTS[severity], plan.clause, why + missing, use.ref, use.artifacts)
    return False


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
        f"{what} permitted by agreement {', '.join(ids)} for {PLAIN[ctx.purpose]} (license alone: {why})",
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
