"""`evaluate(request, snapshot) -> PolicyDecision`: the pure heart of Clearance.

No I/O and no clock: the date is in the request, the catalog in the snapshot. The tenant is
judged for its declared purpose and output use; the operator, whenever its runners host the
weights (or resell a provider's service), is judged as a licensee of its own, for
`hosted_service` when it charges its tenants. Both must pass. Default deny, any forbid wins,
review (or deny when strict) for contradictory terms, unknown licenses and missing profile
facts, and an error never grants.
"""

from __future__ import annotations

from collections.abc import Iterable

import msgspec

from registry.catalog.entries import OPERATOR, Agreement, Runner, TenantProfile
from registry.policy.conditions import PartyContext
from registry.policy.creator import judge_creator
from registry.policy.decision import (
    AppliedLicense,
    AppliedVia,
    Effect,
    ObligationDue,
    Party,
    PartyVerdict,
    PolicyDecision,
    Reason,
)
from registry.policy.identity import derive_decision_id
from registry.policy.judge import Verdict
from registry.policy.judgement_memo import judge_license
from registry.policy.regions import expand_regions
from registry.policy.request import PolicyRequest
from registry.policy.snapshot import CatalogSnapshot, LicenseUse, RequestLicenses
from registry.vocabulary import COMMERCIAL_PURPOSES, ArtifactKind, Decision, HostKind, Purpose

DECISION_RANK = {
    Decision.ALLOW: 0,
    Decision.ALLOW_WITH_OBLIGATIONS: 1,
    Decision.NEEDS_REVIEW: 2,
    Decision.DENY: 3,
}
ERROR_CLAUSE = "evaluation error"


def evaluate(request: PolicyRequest, snapshot: CatalogSnapshot) -> PolicyDecision:
    """Decide `request` against `snapshot`.

    With `request.runner_id` None, every enabled runner serving the model is judged and the best
    decision is returned (its `runner_id` says which; `evaluate_runners` gives them all); with no
    runner at all, only the tenant is judged. A deny carries up to `request.max_alternatives`
    alternatives the tenant may use for the same purpose.
    """
    return evaluate_tracked(request, snapshot, None)


def evaluate_tracked(
    request: PolicyRequest, snapshot: CatalogSnapshot, consulted: list[Agreement] | None
) -> PolicyDecision:
    """`evaluate`, appending to `consulted` every agreement whose usability (dates, revocation,
    quota) was checked: the decision depends on the date and the usage only through those."""
    if request.runner_id is None:
        candidates = _evaluate_runners(request, snapshot, consulted)
        if candidates:
            best = min(candidates, key=rank_key)
        else:
            best = _evaluate_on(request, snapshot, None, True, consulted)
    else:
        best = _evaluate_on(request, snapshot, request.runner_id, True, consulted)
    if best.decision is Decision.DENY and request.max_alternatives and not best.errors:
        from registry.policy.alternatives import find_alternatives

        found = find_alternatives(request, snapshot)
        if found:
            best = msgspec.structs.replace(best, alternatives=found)
    return best


def evaluate_runners(request: PolicyRequest, snapshot: CatalogSnapshot) -> tuple[PolicyDecision, ...]:
    """One decision per enabled runner serving the model (by runner id), without alternatives."""
    return _evaluate_runners(request, snapshot, None)


def _evaluate_runners(
    request: PolicyRequest, snapshot: CatalogSnapshot, consulted: list[Agreement] | None
) -> tuple[PolicyDecision, ...]:
    return tuple(
        _evaluate_on(request, snapshot, runner.id, True, consulted)
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
    consulted: list[Agreement] | None = None,
) -> PolicyDecision:
    errors: list[str] = []
    tenant = snapshot.tenants.get(request.tenant_id)
    if tenant is None:
        errors.append(f"tenant {request.tenant_id!r} is not in the catalog")
    elif tenant.retired:
        errors.append(f"tenant {request.tenant_id!r} is retired")
    _check_artifacts(request, snapshot, errors)
    runner: Runner | None = None
    if runner_id is not None:
        runner = snapshot.runners.get(runner_id)
        if runner is None:
            errors.append(f"runner {runner_id!r} is not in the catalog")
        elif not runner.enabled:
            errors.append(f"runner {runner_id!r} is disabled")
        elif request.model_id not in runner.artifacts:
            errors.append(f"runner {runner_id!r} does not serve {request.model_id!r}")
    licenses: RequestLicenses | None = None
    service: LicenseUse | None = None
    if not errors:
        licenses = snapshot.request_licenses(request.model_id, request.adapter_ids)
        errors.extend(licenses.problems)
        if runner is not None and runner.service_terms is not None:
            service = _service_use(runner, snapshot, errors)
    if errors or licenses is None or tenant is None:
        return _error_decision(request, snapshot, runner_id, errors, with_id)

    usage = request.usage_this_month
    profile = request.profile_override or tenant.profile
    regions = request.end_user_regions if request.end_user_regions is not None else profile.end_user_regions
    provider_terms = runner is not None and runner.host is HostKind.PROVIDER and service is not None
    tenant_ctx = PartyContext(
        party=Party.TENANT,
        holder=tenant.id,
        purpose=request.purpose,
        profile=profile,
        regions=_regions(profile.country, regions),
        country_known=profile.country is not None,
        receives_payment=request.purpose in COMMERCIAL_PURPOSES,
        hosts_for_third_parties=request.purpose is Purpose.HOSTED_SERVICE,
    )
    verdicts = [Verdict(tenant_ctx, snapshot.agreements_of(tenant.id), usage, consulted)]
    operator = snapshot.operator
    operator_charges = operator.charges_tenants
    # The operator is a licensee when it hosts the weights, resells a provider's service, or
    # charges its tenants for generation on whatever runner (payment arising from the model).
    if runner is not None and (runner.host is HostKind.OPERATOR or provider_terms or operator_charges):
        purpose = Purpose.HOSTED_SERVICE if operator_charges else request.purpose
        op_profile = operator.profile
        verdicts.append(
            Verdict(
                PartyContext(
                    party=Party.OPERATOR,
                    holder=operator.id,
                    purpose=purpose,
                    profile=op_profile,
                    regions=_regions(op_profile.country, (*regions, *_country(profile))),
                    country_known=op_profile.country is not None,
                    receives_payment=operator_charges or purpose in COMMERCIAL_PURPOSES,
                    hosts_for_third_parties=True,
                ),
                snapshot.agreements_of(OPERATOR),
                usage,
                consulted,
            )
        )
    date = request.date
    use_cases = request.use_cases
    for verdict in verdicts:
        output_use = request.output_use if verdict.ctx.party is Party.TENANT else None
        if service is not None:
            judge_license(service, verdict, date, use_cases, output_use)
        for use in licenses.uses:
            if use.license is None:
                continue  # reported as an error by the snapshot's problems
            judge_license(use, verdict, date, use_cases, output_use, grants_apply=not provider_terms)
        if not provider_terms:
            for artifact_id, permissions in licenses.creators:
                judge_creator(
                    artifact_id,
                    snapshot.artifacts[artifact_id].license,
                    permissions,
                    verdict,
                    output_use,
                    operator_charges and runner is not None,
                )
    return _combine(request, snapshot, runner, licenses, service, provider_terms, verdicts, with_id)


def _combine(
    request: PolicyRequest,
    snapshot: CatalogSnapshot,
    runner: Runner | None,
    licenses: RequestLicenses,
    service: LicenseUse | None,
    provider_terms: bool,
    verdicts: list[Verdict],
    with_id: bool,
) -> PolicyDecision:
    parties = []
    reasons: list[Reason] = []
    obligations: dict[ObligationDue, None] = {}
    relied: set[str] = set()
    worst = Decision.ALLOW
    for verdict in verdicts:
        decision = verdict.decision(request.strict)
        if DECISION_RANK[decision] > DECISION_RANK[worst]:
            worst = decision
        parties.append(
            PartyVerdict(
                party=verdict.ctx.party,
                holder=verdict.ctx.holder,
                purpose=verdict.ctx.purpose,
                decision=decision,
            )
        )
        reasons.extend(verdict.reasons)
        obligations.update(dict.fromkeys(verdict.obligations))
        relied.update(verdict.agreements)
    if worst is Decision.ALLOW and obligations:
        worst = Decision.ALLOW_WITH_OBLIGATIONS
    applied = licenses.applied
    if provider_terms:
        applied = tuple(_superseded(a) for a in applied)
    if service is not None and runner is not None:
        applied = (*applied, service.entries[0])
    if licenses.creators:
        applied = (
            *applied,
            *(
                AppliedLicense(
                    license=snapshot.artifacts[a].license,
                    artifact=a,
                    via=AppliedVia.CREATOR,
                    source=a,
                    path=(a,),
                )
                for a, _ in licenses.creators
            ),
        )
    runner_id = runner.id if runner is not None else None
    return PolicyDecision(
        decision_id=_decision_id(request, snapshot, runner_id, with_id),
        decision=worst,
        runner_id=runner_id,
        reasons=tuple(reasons),
        effective_licenses=applied,
        obligations=tuple(obligations),
        agreements_relied_on=tuple(sorted(relied)),
        parties=tuple(parties),
        snapshot_version=snapshot.version,
    )


def _superseded(entry: AppliedLicense) -> AppliedLicense:
    return AppliedLicense(
        license=entry.license,
        artifact=entry.artifact,
        via=entry.via,
        source=entry.source,
        path=entry.path,
        superseded=True,
    )


def _service_use(runner: Runner, snapshot: CatalogSnapshot, errors: list[str]) -> LicenseUse | None:
    ref = runner.service_terms
    assert ref is not None
    compiled = snapshot.licenses.get(ref)
    if compiled is None:
        errors.append(f"runner {runner.id!r}: service terms {ref!r} are not in the catalog")
        return None
    entry = AppliedLicense(
        license=ref, artifact=runner.id, via=AppliedVia.SERVICE_TERMS, source=runner.id, path=(runner.id,)
    )
    return LicenseUse(
        ref=ref,
        license=compiled,
        entries=(entry,),
        artifacts=(runner.id,),
        coverage=(frozenset({runner.id, *runner.artifacts}),),
        restrictions_bind=True,
    )


def _check_artifacts(request: PolicyRequest, snapshot: CatalogSnapshot, errors: list[str]) -> None:
    model = snapshot.artifacts.get(request.model_id)
    if model is None:
        errors.append(f"model {request.model_id!r} is not in the catalog")
    elif model.kind not in (ArtifactKind.BASE_MODEL, ArtifactKind.PROVIDER_SERVICE):
        errors.append(
            f"model {request.model_id!r} is a {model.kind.value}, not a base model or provider service"
        )
    elif model.retired:
        errors.append(f"model {request.model_id!r} is retired")
    for adapter_id in request.adapter_ids:
        adapter = snapshot.artifacts.get(adapter_id)
        if adapter is None:
            errors.append(f"adapter {adapter_id!r} is not in the catalog")
        elif adapter.kind is not ArtifactKind.ADAPTER:
            errors.append(f"adapter {adapter_id!r} is a {adapter.kind.value}, not an adapter")
        elif adapter.retired:
            errors.append(f"adapter {adapter_id!r} is retired")


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


def _country(profile: TenantProfile) -> tuple[str, ...]:
    return (profile.country,) if profile.country else ()


def _regions(country: str | None, regions: Iterable[str]) -> frozenset[str]:
    return expand_regions((country, *regions) if country else regions)
