"""A straightforward evaluation, without any memo: every license of the request judged afresh for
each party, exactly as docs/policy.md describes it. The engine's remembered judgements, compiled
stacks and per-tenant facts must give the same decisions, word for word."""

from __future__ import annotations

from collections.abc import Iterable

from registry.catalog.entries import OPERATOR, Runner
from registry.policy import PolicyDecision, PolicyRequest, rank_key
from registry.policy.conditions import PartyContext
from registry.policy.creator import judge_creator
from registry.policy.decision import (
    AppliedLicense,
    AppliedVia,
    Effect,
    ObligationDue,
    Party,
    PartyVerdict,
    Reason,
)
from registry.policy.evaluate import DECISION_RANK, ERROR_CLAUSE
from registry.policy.identity import derive_decision_id
from registry.policy.judge import Verdict, judge_license_terms
from registry.policy.regions import expand_regions
from registry.policy.snapshot import CatalogSnapshot, LicenseUse, _merge
from registry.policy.stack import _check_artifacts, _service_use
from registry.vocabulary import COMMERCIAL_PURPOSES, Decision, HostKind, Purpose


def reference_evaluate(request: PolicyRequest, snapshot: CatalogSnapshot) -> PolicyDecision:
    """`evaluate` without alternatives (requests here ask for none)."""
    assert request.max_alternatives == 0
    if request.runner_id is None:
        candidates = [
            evaluate_on(request, snapshot, r.id) for r in snapshot.candidate_runners(request.model_id)
        ]
        if candidates:
            return min(candidates, key=rank_key)
    return evaluate_on(request, snapshot, request.runner_id)


def evaluate_on(request: PolicyRequest, snapshot: CatalogSnapshot, runner_id: str | None) -> PolicyDecision:
    errors: list[str] = []
    tenant = snapshot.tenants.get(request.tenant_id)
    if tenant is None:
        errors.append(f"tenant {request.tenant_id!r} is not in the catalog")
    elif tenant.retired:
        errors.append(f"tenant {request.tenant_id!r} is retired")
    _check_artifacts(request.model_id, request.adapter_ids, snapshot, errors)
    runner: Runner | None = None
    if runner_id is not None:
        runner = snapshot.runners.get(runner_id)
        if runner is None:
            errors.append(f"runner {runner_id!r} is not in the catalog")
        elif not runner.enabled:
            errors.append(f"runner {runner_id!r} is disabled")
        elif request.model_id not in runner.artifacts:
            errors.append(f"runner {runner_id!r} does not serve {request.model_id!r}")
    service: LicenseUse | None = None
    licenses = None
    if not errors:
        parts = [
            snapshot.artifact_licenses[a] for a in dict.fromkeys((request.model_id, *request.adapter_ids))
        ]
        licenses = _merge(parts, snapshot)
        errors.extend(licenses.problems)
        if runner is not None and runner.service_terms is not None:
            service = _service_use(runner, snapshot, errors)
    decision_id = request.decision_id or derive_decision_id(request, snapshot.version, runner_id)
    if errors or licenses is None or tenant is None:
        unique = tuple(dict.fromkeys(errors))
        return PolicyDecision(
            decision_id=decision_id,
            decision=Decision.DENY,
            runner_id=runner_id,
            reasons=tuple(
                Reason(party=Party.TENANT, effect=Effect.FORBID, clause=ERROR_CLAUSE, message=e)
                for e in unique
            ),
            effective_licenses=(),
            obligations=(),
            agreements_relied_on=(),
            parties=(),
            errors=unique,
            snapshot_version=snapshot.version,
        )
    profile = request.profile_override or tenant.profile
    regions = request.end_user_regions if request.end_user_regions is not None else profile.end_user_regions
    provider_terms = runner is not None and runner.host is HostKind.PROVIDER and service is not None
    usage = request.usage_this_month
    verdicts = [
        Verdict(
            PartyContext(
                party=Party.TENANT,
                holder=tenant.id,
                purpose=request.purpose,
                profile=profile,
                regions=_regions(profile.country, regions),
                country_known=profile.country is not None,
                receives_payment=request.purpose in COMMERCIAL_PURPOSES,
                hosts_for_third_parties=request.purpose is Purpose.HOSTED_SERVICE,
            ),
            snapshot.agreements_of(tenant.id),
            usage,
        )
    ]
    operator = snapshot.operator
    charges = operator.charges_tenants
    if runner is not None and (runner.host is HostKind.OPERATOR or provider_terms or charges):
        purpose = Purpose.HOSTED_SERVICE if charges else request.purpose
        op_profile = operator.profile
        country = (profile.country,) if profile.country else ()
        verdicts.append(
            Verdict(
                PartyContext(
                    party=Party.OPERATOR,
                    holder=operator.id,
                    purpose=purpose,
                    profile=op_profile,
                    regions=_regions(op_profile.country, (*regions, *country)),
                    country_known=op_profile.country is not None,
                    receives_payment=charges or purpose in COMMERCIAL_PURPOSES,
                    hosts_for_third_parties=True,
                ),
                snapshot.agreements_of(OPERATOR),
                usage,
            )
        )
    for verdict in verdicts:
        output_use = request.output_use if verdict.ctx.party is Party.TENANT else None
        if service is not None:
            judge_license_terms(service, verdict, request.date, request.use_cases, output_use)
        for use in licenses.uses:
            judge_license_terms(
                use, verdict, request.date, request.use_cases, output_use, grants_apply=not provider_terms
            )
        if not provider_terms:
            for artifact_id, permissions in licenses.creators:
                judge_creator(
                    artifact_id,
                    snapshot.artifacts[artifact_id].license,
                    permissions,
                    verdict,
                    output_use,
                    charges and runner is not None,
                )
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
        applied = tuple(
            AppliedLicense(
                license=a.license,
                artifact=a.artifact,
                via=a.via,
                source=a.source,
                path=a.path,
                superseded=True,
            )
            for a in applied
        )
    if service is not None:
        applied = (*applied, service.entries[0])
    applied = (
        *applied,
        *(
            AppliedLicense(
                license=snapshot.artifacts[a].license, artifact=a, via=AppliedVia.CREATOR, source=a, path=(a,)
            )
            for a, _ in licenses.creators
        ),
    )
    return PolicyDecision(
        decision_id=decision_id,
        decision=worst,
        runner_id=runner_id,
        reasons=tuple(reasons),
        effective_licenses=applied,
        obligations=tuple(obligations),
        agreements_relied_on=tuple(sorted(relied)),
        parties=tuple(parties),
        snapshot_version=snapshot.version,
    )


def _regions(country: str | None, regions: Iterable[str]) -> frozenset[str]:
    return expand_regions((country, *regions) if country else regions)
