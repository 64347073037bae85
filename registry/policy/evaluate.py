"""`evaluate(request, snapshot) -> PolicyDecision`: the pure heart of Clearance.

No I/O and no clock: the date is in the request, the catalog in the snapshot. The tenant is
judged for its declared purpose and output use; the operator, whenever its runners host the
weights (or resell a provider's service), is judged as a licensee of its own, for
`hosted_service` when it charges its tenants. Both must pass. Default deny, any forbid wins,
review (or deny when strict) for contradictory terms, unknown licenses and missing profile
facts, and an error never grants.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import msgspec

from registry.catalog.entries import TenantProfile
from registry.policy import _remembered as fast_path
from registry.policy.agreements import (
    ALWAYS,
    AgreementNames,
    HolderAgreements,
    UsabilityWindow,
    usability_window,
)
from registry.policy.decision import (
    Effect,
    ObligationDue,
    Party,
    PartyVerdict,
    PolicyDecision,
    Reason,
)
from registry.policy.facts import FactReader
from registry.policy.identity import (
    canonical_request,
    decision_id_after,
    derive_decision_id,
    encode_request_into,
)
from registry.policy.judgement_memo import Dated, Judgement, recall
from registry.policy.keys import keep, plain, use_cases_key
from registry.policy.party import judged_with_agreements, operator_judgement, tenant_judgement
from registry.policy.request import PolicyRequest
from registry.policy.snapshot import KEY_PARTS_LIMIT, CatalogSnapshot, TenantSeen
from registry.policy.stack import MEMO_LIMIT, PurposeView, StackPlan, stack_plan
from registry.vocabulary import Decision, Purpose

DECISION_RANK = {
    Decision.ALLOW: 0,
    Decision.ALLOW_WITH_OBLIGATIONS: 1,
    Decision.NEEDS_REVIEW: 2,
    Decision.DENY: 3,
}
ERROR_CLAUSE = "evaluation error"
# members read once: each `Enum.MEMBER` costs a metaclass `__getattr__` call
_TENANT, _OPERATOR = Party.TENANT, Party.OPERATOR
_ALLOW, _ALLOW_WITH_OBLIGATIONS = Decision.ALLOW, Decision.ALLOW_WITH_OBLIGATIONS
_NEEDS_REVIEW, _DENY = Decision.NEEDS_REVIEW, Decision.DENY
_replace = msgspec.structs.replace  # read once: two module attributes fewer per decision


def evaluate(request: PolicyRequest, snapshot: CatalogSnapshot) -> PolicyDecision:
    """Decide `request` against `snapshot`.

    With `request.runner_id` None, every enabled runner serving the model is judged and the best
    decision is returned (its `runner_id` says which; `evaluate_runners` gives them all); with no
    runner at all, only the tenant is judged. A deny carries up to `request.max_alternatives`
    alternatives the tenant may use for the same purpose.
    """
    runner_id = request.runner_id
    if runner_id is None or request.max_alternatives:
        return evaluate_tracked(request, snapshot, None)
    decision = _remembered(request, snapshot, runner_id, None)  # `_evaluate_on`'s first step
    if decision is not None:
        return decision
    return _evaluate_on(request, snapshot, runner_id, True, None, tried=True)


def evaluate_tracked(
    request: PolicyRequest, snapshot: CatalogSnapshot, windows: list[UsabilityWindow] | None
) -> PolicyDecision:
    """`evaluate`, appending to `windows` the usability window of every judgement it relied on:
    the decision depends on the date and the usage only through the agreements whose usability
    (dates, revocation, quota) those judgements checked, so it stays what it is while all of
    them hold (`agreements.windows_meet`)."""
    if request.runner_id is None:
        candidates = _evaluate_runners(request, snapshot, windows)
        if candidates:
            best = min(candidates, key=rank_key)
        else:
            best = _evaluate_on(request, snapshot, None, True, windows)
    else:
        best = _evaluate_on(request, snapshot, request.runner_id, True, windows)
    if best.decision is _DENY and request.max_alternatives and not best.errors:
        from registry.policy.alternatives import find_alternatives

        found = find_alternatives(request, snapshot, windows)
        if found:
            best = msgspec.structs.replace(best, alternatives=found)
    return best


def evaluate_runners(request: PolicyRequest, snapshot: CatalogSnapshot) -> tuple[PolicyDecision, ...]:
    """One decision per enabled runner serving the model (by runner id), without alternatives."""
    return _evaluate_runners(request, snapshot, None)


def _evaluate_runners(
    request: PolicyRequest, snapshot: CatalogSnapshot, windows: list[UsabilityWindow] | None
) -> tuple[PolicyDecision, ...]:
    return tuple(
        _evaluate_on(request, snapshot, runner.id, True, windows)
        for runner in snapshot.candidate_runners(request.model_id)
    )


def rank_key(decision: PolicyDecision) -> tuple[int, int, str]:
    """Best first: allowed before allowed with obligations, fewer obligations, then runner id."""
    return (DECISION_RANK[decision.decision], len(decision.obligations), decision.runner_id or "")


def _evaluate_on(
    request: PolicyRequest,
    snapshot: CatalogSnapshot,
    runner_id: str | None,
    with_id: bool,
    windows: list[UsabilityWindow] | None = None,
    *,
    tried: bool = False,
) -> PolicyDecision:
    if with_id and not tried:  # the remembered decision, in C; None when a part is not remembered
        decision = _remembered(request, snapshot, runner_id, windows)
        if decision is not None:
            return decision
    tenant_id = request.tenant_id
    plan = snapshot.stack_plans.get((request.model_id, request.adapter_ids, runner_id))
    if plan is None:
        plan = stack_plan(snapshot, request.model_id, request.adapter_ids, runner_id)
    seen = snapshot.tenants_seen.get(tenant_id)  # `CatalogSnapshot.tenant_seen`, inline
    if seen is None:
        seen = snapshot.tenant_seen(tenant_id)
    if seen is None or seen.retired or plan.errors or plan.license_errors:
        errors: list[str] = []
        if seen is None:
            errors.append(f"tenant {tenant_id!r} is not in the catalog")
        elif seen.retired:
            errors.append(f"tenant {tenant_id!r} is retired")
        errors.extend(plan.errors)
        if not errors:
            errors.extend(plan.license_errors)
        return _error_decision(request, snapshot, runner_id, errors, with_id)

    profile = request.profile_override or seen.profile
    regions = request.end_user_regions
    if regions is None:
        regions = profile.end_user_regions
    purpose = request.purpose
    output_use = request.output_use
    use_cases = request.use_cases
    cases = use_cases_key(use_cases) if use_cases else ()
    strict = request.strict
    date, usage = request.date, request.usage_this_month
    view = plan.views.get((purpose, output_use))
    if view is None:
        view = plan.view(purpose, output_use)
    country = profile.country
    operator_part: Judgement | None = None
    operator_purpose = purpose
    # The operator is a licensee when it hosts the weights, resells a provider's service, or
    # charges its tenants for generation on whatever runner (payment arising from the model).
    if plan.operator_judged:
        operator_purpose = view.operator_purpose
        # Its profile is the snapshot's, the same for every request: only the territory it
        # serves (the tenant's regions and country) varies.
        around: tuple[object, ...] | None = None
        if view.operator_territory:
            around = snapshot.key_part((*regions, country) if country else tuple(regions))
        # keys of plain values (`keys`)
        operator_key = (view.plain_operator_purpose, cases, around)
        operator_part = recall(plan.operator_parts, operator_key, date, usage)
        if operator_part is None:
            operator_part = operator_judgement(
                plan, snapshot, operator_key, operator_purpose, regions, profile, use_cases, date, usage
            )
        if windows is not None:
            windows.append(operator_part.window)
    # The whole decision, but its id and the tenant's name, is what every tenant with the same
    # facts gets (beside the same operator judgement) unless its agreements could cover a license
    # that fails to hold for them: most tenants hold none that could.
    registrations = seen.registrations if profile is seen.profile else None  # a set reads faster
    facts = snapshot.key_part(view.reader.read(profile, (country, regions), registrations))
    operator_said = operator_part.same_as or operator_part if operator_part is not None else None
    decision_key = (operator_said, view.plain_purpose, view.plain_output_key, cases, strict, facts)
    found: Combined | None = plan.decisions.get(decision_key)
    return _decided_on(
        request,
        snapshot,
        plan,
        seen,
        view,
        profile,
        regions,
        cases,
        operator_part,
        facts,
        decision_key,
        found,
        windows,
        with_id,
    )


def _decided_on(
    request: PolicyRequest,
    snapshot: CatalogSnapshot,
    plan: StackPlan,
    seen: TenantSeen,
    view: PurposeView,
    profile: TenantProfile,
    regions: tuple[str, ...],
    cases: tuple[str, ...],
    operator_part: Judgement | None,
    facts: tuple[object, ...],
    decision_key: tuple[object, ...],
    found: Combined | None,
    windows: list[UsabilityWindow] | None,
    with_id: bool,
) -> PolicyDecision:
    """`_evaluate_on` from the remembered decision on: `found`, the one remembered under
    `decision_key` (or None), unless the tenant's agreements could change it. The C path
    (`_remembered.c`) calls it where it finds no decision it may answer with, with what it has
    looked up on the way, windows None and `with_id` True."""
    tenant_id = request.tenant_id
    purpose = request.purpose
    output_use = request.output_use
    use_cases = request.use_cases
    date, usage = request.date, request.usage_this_month
    strict = request.strict
    index = seen.agreements
    decision_id = request.decision_id
    if decision_id is None:
        decision_id = decision_id_after(plan.id_prefix, request) if with_id else ""
    if found is not None and found.open_to is not None and index.grants_any(found.open_to):
        # The tenant's agreements could change the judgement every tenant with these facts
        # gets: judged against them, beside the same operator judgement (`found` was made with
        # one saying the same), the rest of `found.answer` stays. Not remembered: it relies on
        # the tenant's own agreements.
        tenant_part = judged_with_agreements(
            found.judged,
            view,
            tenant_id,
            index,
            profile,
            regions,
            purpose,
            output_use,
            use_cases,
            date,
            usage,
        )
        _note_window(windows, tenant_part, snapshot, date, usage)
        tenant_decision, decision, reasons, obligations, relied = _merged(tenant_part, operator_part, strict)
        verdict = PartyVerdict(party=_TENANT, holder=tenant_id, purpose=purpose, decision=tenant_decision)
        operator_verdict = found.operator
        return _replace(  # one replace: not a call with ** (which costs more than the replace)
            found.answer,
            decision_id=decision_id,
            decision=decision,
            reasons=reasons,
            obligations=obligations,
            agreements_relied_on=relied,
            parties=(verdict,) if operator_verdict is None else (verdict, operator_verdict),
        )
    if found is None:
        operator_purpose = view.operator_purpose if plan.operator_judged else purpose
        whole, tenant_part = tenant_judgement(
            plan,
            view,
            snapshot,
            seen.tenant,
            index,
            profile,
            regions,
            purpose,
            output_use,
            use_cases,
            date,
            usage,
            cases,
            facts,
        )
        _note_window(windows, tenant_part, snapshot, date, usage)
        found = _combine(tenant_part, operator_part, strict, snapshot, plan, operator_purpose)
        if tenant_part is whole:  # the judgement every tenant with these facts gets
            keep(plan.decisions, decision_key, found, MEMO_LIMIT)
        else:  # the tenant's own: what the others get is remembered beside it
            shared = _combine(whole, operator_part, strict, snapshot, plan, operator_purpose)
            keep(plan.decisions, decision_key, shared, MEMO_LIMIT)
    verdict = PartyVerdict(party=_TENANT, holder=tenant_id, purpose=purpose, decision=found.tenant)
    operator_verdict = found.operator
    return _replace(
        found.answer,
        decision_id=decision_id,
        parties=(verdict,) if operator_verdict is None else (verdict, operator_verdict),
    )


def _note_window(
    windows: list[UsabilityWindow] | None,
    tenant_part: Judgement,
    snapshot: CatalogSnapshot,
    date: dt.date,
    usage: Mapping[str, int],
) -> None:
    """Adds to `windows` (when asked for) the usability window of the tenant's own agreements
    that `tenant_part` checked: a judgement relying on them is not windowed when judged."""
    if windows is not None and tenant_part.consulted:
        windows.append(
            usability_window([snapshot.all_agreements[p] for p in tenant_part.consulted], date, usage)
        )


class Combined(msgspec.Struct, frozen=True, eq=False, gc=False):
    """What two party judgements make together: remembered per stack, so untracked by the
    collector (no cycles) and hashed by identity."""

    tenant: Decision
    """The tenant's own decision."""
    answer: PolicyDecision
    """The decision, but its id and the tenant's verdict (`parties` holds the operator's, when
    it is judged)."""
    operator: PartyVerdict | None
    """`answer`'s only party, when the operator is judged."""
    open_to: AgreementNames | None
    """With a tenant judgement remembered for every tenant with the same facts: what a tenant's
    agreement would have to name to change it (`party.open_to_agreements`)."""
    judged: Judgement
    """The tenant's judgement it was made from: with `open_to`, the one every tenant with the
    same facts gets, which a tenant whose agreements could change it has judged again
    (`party.judged_with_agreements`)."""


fast_path.configure(
    {
        "PolicyRequest": PolicyRequest,
        "CatalogSnapshot": CatalogSnapshot,
        "StackPlan": StackPlan,
        "TenantSeen": TenantSeen,
        "TenantProfile": TenantProfile,
        "PurposeView": PurposeView,
        "Dated": Dated,
        "Judgement": Judgement,
        "UsabilityWindow": UsabilityWindow,
        "FactReader": FactReader,
        "Combined": Combined,
        "AgreementNames": AgreementNames,
        "HolderAgreements": HolderAgreements,
        "PartyVerdict": PartyVerdict,
        "TENANT": _TENANT,
        "ALWAYS": ALWAYS,
        "replace": msgspec.structs.replace,
        "encode_request_into": encode_request_into,
        "canonical_request": canonical_request,
        "use_cases_key": use_cases_key,
        "plain": plain,
        "KEY_PARTS_LIMIT": KEY_PARTS_LIMIT,
        "decided_on": _decided_on,
    }
)
_remembered = fast_path.remembered
"""`_evaluate_on` in C (`_remembered.c`), the same decision: None where a part it reads before the
remembered decision (the stack, the tenant, the view, the operator's judgement) is not
remembered, or where `windows` is given and no decision it may answer with is remembered;
otherwise, without a decision to answer with, it hands what it looked up to `_decided_on`."""


_DECIDED = ((_ALLOW, _NEEDS_REVIEW, _DENY), (_ALLOW, _DENY, _DENY))
"""A party's decision by its judgement's severity (`Judgement.worst`), not strict and strict,
before obligations turn an allow into an allow with obligations."""


def _combine(
    tenant: Judgement,
    operator: Judgement | None,
    strict: bool,
    snapshot: CatalogSnapshot,
    plan: StackPlan,
    operator_purpose: Purpose,
) -> Combined:
    tenant_decision, decision, reasons, obligations, relied = _merged(tenant, operator, strict)
    operator_verdict: PartyVerdict | None = None
    if operator is not None:
        operator_decision = _DECIDED[strict][operator.worst]
        if operator_decision is _ALLOW and operator.obligations:
            operator_decision = _ALLOW_WITH_OBLIGATIONS
        operator_verdict = PartyVerdict(
            party=_OPERATOR, holder=snapshot.operator.id, purpose=operator_purpose, decision=operator_decision
        )
    runner = plan.runner
    answer = PolicyDecision(
        decision_id="",
        decision=decision,
        runner_id=runner.id if runner is not None else None,
        reasons=reasons,
        effective_licenses=plan.applied,
        obligations=obligations,
        agreements_relied_on=relied,
        parties=(operator_verdict,) if operator_verdict is not None else (),
        snapshot_version=snapshot.version,
    )
    return Combined(tenant_decision, answer, operator_verdict, tenant.open_to, tenant)


def _merged(
    tenant: Judgement, operator: Judgement | None, strict: bool
) -> tuple[Decision, Decision, tuple[Reason, ...], tuple[ObligationDue, ...], tuple[str, ...]]:
    """The tenant's own decision, then the decision, reasons, obligations and agreements relied
    on of the two party judgements together."""
    decided = _DECIDED[strict]
    worst = tenant.worst
    tenant_decision = decided[worst]
    if tenant_decision is _ALLOW and tenant.obligations:
        tenant_decision = _ALLOW_WITH_OBLIGATIONS
    reasons = tenant.reasons
    obligations = tenant.obligations
    relied = tenant.agreements
    if operator is not None:
        if operator.worst > worst:
            worst = operator.worst
        reasons = reasons + operator.reasons
        obligations += operator.obligations
        relied += operator.agreements
    decision = decided[worst]  # the worse of the two, any obligation of either making it
    if obligations:
        obligations = tuple(dict.fromkeys(obligations))
        if decision is _ALLOW:
            decision = _ALLOW_WITH_OBLIGATIONS
    return tenant_decision, decision, reasons, obligations, tuple(sorted(set(relied))) if relied else ()


def _error_decision(
    request: PolicyRequest, snapshot: CatalogSnapshot, runner_id: str | None, errors: list[str], with_id: bool
) -> PolicyDecision:
    unique = tuple(dict.fromkeys(errors))
    return PolicyDecision(
        decision_id=_decision_id(request, snapshot, runner_id, with_id),
        decision=Decision.DENY,
        runner_id=runner_id,
        reasons=tuple(
            Reason(party=Party.TENANT, effect=Effect.FORBID, clause=ERROR_CLAUSE, message=e) for e in unique
        ),
        effective_licenses=(),
        obligations=(),
        agreements_relied_on=(),
        parties=(),
        errors=unique,
        snapshot_version=snapshot.version,
    )


def _decision_id(
    request: PolicyRequest, snapshot: CatalogSnapshot, runner_id: str | None, with_id: bool
) -> str:
    if request.decision_id is not None:
        return request.decision_id
    return derive_decision_id(request, snapshot.version, runner_id) if with_id else ""
