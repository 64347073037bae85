"""Judging one party (tenant or operator) against the licenses of a request.

Each license speaks through reasons: use restrictions and territory forbid whatever the purpose;
the grant for the party's purpose permits, forbids or asks for review depending on its status and
conditions; a usable agreement covering the license turns a grant that does not hold into a
permit; output terms are judged apart from weight terms; creator flags can only narrow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from registry.catalog.entries import Agreement, CreatorPermissions
from registry.policy.agreements import HolderAgreements, covering_agreement
from registry.policy.conditions import Outcome, PartyContext, judge_condition
from registry.policy.decision import Effect, ObligationDue, Party, Reason
from registry.policy.snapshot import LicenseUse
from registry.terms import Condition
from registry.vocabulary import (
    COMMERCIAL_PURPOSES,
    CivitaiCommercialUse,
    Decision,
    GrantStatus,
    ObligationKind,
    OutputUse,
    Purpose,
    UseCase,
)

_SEVERITY = {Effect.PERMIT: 0, Effect.REVIEW: 1, Effect.FORBID: 2}
_OUTCOME_EFFECT = (Effect.PERMIT, Effect.REVIEW, Effect.FORBID)
CREATOR_CLAUSE = "Civitai creator permissions"


class Verdict:
    """Reasons, obligations and agreements gathered for one party; `worst` is the strongest effect."""

    __slots__ = ("agreements", "ctx", "index", "obligations", "reasons", "usage", "worst")

    def __init__(self, ctx: PartyContext, index: HolderAgreements, usage: Mapping[str, int]) -> None:
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


def judge_license(
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
    ref = use.ref
    artifacts = use.artifacts
    if lic.unknown:
        verdict.add(
            Effect.REVIEW,
            "unknown license",
            "the license could not be determined; a person must review it before any use",
            ref,
            artifacts,
        )
        return
    if use_cases and use.restrictions_bind:
        for use_case in sorted(use_cases):
            clause = lic.restricted.get(use_case)
            if clause is not None:
                verdict.add(
                    Effect.FORBID,
                    clause,
                    f"the license forbids use for {use_case.value}, whatever the purpose",
                    ref,
                    artifacts,
                )
    if not grants_apply:
        return
    if lic.excluded_regions:
        _judge_territory(use, verdict, for_outputs=False)
    grant = lic.grants.get(ctx.purpose)
    if grant is None:
        effect, clause, why = (
            Effect.FORBID,
            "default deny",
            f"the license grants nothing for {ctx.purpose.value}",
        )
    else:
        effect, why = _judge_status(grant.status, grant.conditions, ctx)
        clause = grant.clause
    if effect is not Effect.PERMIT:
        missing = _cure(use, verdict, date, clause, why, "use")
        if missing is not None:
            verdict.add(effect, clause, why + missing, ref, artifacts)
            return
    else:
        verdict.add(Effect.PERMIT, clause, why, ref, artifacts)
    for obligation in lic.obligations[ctx.purpose]:
        verdict.obligations.append(
            ObligationDue(
                party=ctx.party,
                kind=obligation.kind,
                clause=obligation.clause,
                license=ref,
                text=obligation.text,
                url=obligation.url,
            )
        )
    if output_use is not None:
        _judge_outputs(use, verdict, date, output_use)


def _judge_outputs(use: LicenseUse, verdict: Verdict, date: dt.date, output_use: OutputUse) -> None:
    lic = use.license
    assert lic is not None
    if lic.territory_covers_outputs:
        _judge_territory(use, verdict, for_outputs=True)
    grant = lic.output_grants.get(output_use)
    if grant is None:
        return  # the license says nothing about this use of outputs
    effect, why = _judge_status(grant.status, grant.conditions, verdict.ctx)
    why = f"outputs ({output_use.value}): {why}"
    if effect is not Effect.PERMIT:
        missing = _cure(use, verdict, date, grant.clause, why, "outputs")
        if missing is None:
            return
        why += missing
    verdict.add(effect, grant.clause, why, use.ref, use.artifacts)


def _judge_territory(use: LicenseUse, verdict: Verdict, *, for_outputs: bool) -> None:
    lic = use.license
    assert lic is not None
    ctx = verdict.ctx
    clause = lic.territory_clause or "territory"
    what = "outputs may not be used" if for_outputs else "the license does not apply"
    hit = ctx.regions & lic.excluded_regions
    if hit:
        verdict.add(Effect.FORBID, clause, f"{what} in {', '.join(sorted(hit))}", use.ref, use.artifacts)
    elif not ctx.country_known:
        verdict.add(
            Effect.REVIEW,
            clause,
            f"the license excludes territories and the {ctx.party.value}'s country is not declared",
            use.ref,
            use.artifacts,
        )


def _judge_status(
    status: GrantStatus, conditions: tuple[Condition, ...], ctx: PartyContext
) -> tuple[Effect, str]:
    if status is GrantStatus.DENIED:
        return Effect.FORBID, f"the license does not permit {ctx.purpose.value} use"
    if status is GrantStatus.REQUIRES_AGREEMENT:
        return Effect.FORBID, f"{ctx.purpose.value} use needs a separate agreement with the licensor"
    if status is GrantStatus.CONFLICTING:
        return Effect.REVIEW, f"the license text is contradictory about {ctx.purpose.value} use"
    if not conditions:
        return Effect.PERMIT, f"{ctx.purpose.value} use is granted"
    worst = Outcome.MET
    messages = []
    for condition in conditions:
        outcome, message = judge_condition(condition, ctx)
        if outcome > worst:
            worst = outcome
            messages = [message]
        elif outcome == worst:
            messages.append(message)
    prefix = f"{ctx.purpose.value} use is granted: " if worst is Outcome.MET else ""
    return _OUTCOME_EFFECT[worst], prefix + "; ".join(messages)


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
            verdict.index, lic.family, coverage, ctx.purpose, date, verdict.usage, unusable
        )
        if agreement is None:
            return f"; no usable agreement: {'; '.join(dict.fromkeys(unusable))}" if unusable else ""
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
