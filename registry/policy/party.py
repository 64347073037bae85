"""One party (tenant or operator) judged on a compiled stack: the judgements of its licenses and
creator flags put together, remembered on the stack for the situations that repeat.

A tenant's judgement on a stack depends on its facts (what the licenses' `FactReader`s read) and,
only for the licenses its own agreements could cover, on those agreements. So the stack keeps,
per facts, the judgement every tenant without such agreements gets, and the judgement of each
license alone; a tenant holding an agreement for one license of the stack has just that license
judged afresh. The operator is one party: its judgement is remembered while the agreements it
checked answer the same way (validity window, side of each quota).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from functools import lru_cache

import msgspec

from registry.catalog.entries import Tenant, TenantProfile
from registry.policy.agreements import (
    ALWAYS,
    AgreementNames,
    HolderAgreements,
    windows_meet,
)
from registry.policy.conditions import PartyContext
from registry.policy.creator import judge_creator
from registry.policy.decision import ObligationDue, Party, Reason
from registry.policy.facts import FactReader
from registry.policy.judge import LicenseSteps, Verdict, license_steps
from registry.policy.judgement_memo import (
    Judgement,
    judge_without_agreements,
    judged_with_own_agreements,
    operator_judgement_of,
    remember,
    shared_tenant_judgement,
)
from registry.policy.keys import PLAIN, keep, recall_kept, use_cases_key
from registry.policy.regions import expand_regions
from registry.policy.snapshot import MEMO_PER_USE, CatalogSnapshot
from registry.policy.stack import MEMO_LIMIT, PurposeView, StackPlan
from registry.vocabulary import COMMERCIAL_PURPOSES, OutputUse, Purpose, UseCase

_TENANT, _HOSTED_SERVICE = Party.TENANT, Purpose.HOSTED_SERVICE
NO_AGREEMENTS = HolderAgreements()
NO_FLAGS = Judgement(reasons=(), obligations=(), agreements=(), worst=0, window=ALWAYS, consulted=())
"""The judgement of a stack without creator flags."""


def tenant_judgement(
    plan: StackPlan,
    view: PurposeView,
    snapshot: CatalogSnapshot,
    tenant: Tenant,
    index: HolderAgreements,
    profile: TenantProfile,
    regions: tuple[str, ...],
    purpose: Purpose,
    output_use: OutputUse,
    use_cases: frozenset[UseCase],
    date: dt.date,
    usage: Mapping[str, int],
    cases: tuple[str, ...],
    facts: tuple[object, ...],
) -> tuple[Judgement, Judgement]:
    """The judgement every tenant with the same `facts` (`view.reader`) gets when no agreement
    takes part, and the tenant's. The first is remembered on the stack, with the judgement of
    each license (`Judgement.parts`): it is the tenant's unless the tenant holds an agreement that
    could cover a license failing to hold for these facts (`open_to_agreements`); such licenses
    are judged against the tenant's agreements (`judged_with_agreements`)."""
    # keys of plain values (`keys`)
    key = (view.plain_purpose, view.plain_output_key, cases, facts)
    whole: Judgement | None = recall_kept(plan.tenant_parts, key)
    if whole is None:
        whole = _judged_for_facts(
            plan,
            view,
            snapshot,
            tenant.id,
            profile,
            regions,
            purpose,
            output_use,
            use_cases,
            cases,
            date,
        )
        keep(plan.tenant_parts, key, whole, MEMO_LIMIT)
    # Agreements are looked for only where a grant or output term does not hold, which leaves a
    # review or a forbid: elsewhere the tenant's agreements change nothing.
    if whole.open_to is None or not index.grants_any(whole.open_to):
        return whole, whole
    return whole, judged_with_agreements(
        whole, view, tenant.id, index, profile, regions, purpose, output_use, use_cases, date, usage
    )


def judged_with_agreements(
    whole: Judgement,
    view: PurposeView,
    tenant_id: str,
    index: HolderAgreements,
    profile: TenantProfile,
    regions: tuple[str, ...],
    purpose: Purpose,
    output_use: OutputUse,
    use_cases: frozenset[UseCase],
    date: dt.date,
    usage: Mapping[str, int],
) -> Judgement:
    """`whole`, the judgement every tenant with the same facts gets, with the licenses that fail
    to hold for them and that the tenant's agreements (`index`, its
    `CatalogSnapshot.agreements_of`) could cover judged against those agreements, the others
    kept. `evaluate` calls it directly when a remembered decision's `Combined.judged` is `whole`."""
    parts: list[Judgement] | None = None
    whole_parts = whole.parts
    tenant_uses = view.tenant_uses
    grants = index.grants.keys()
    by_artifact = index.by_artifact
    for i in whole.failing:
        tenant_use = tenant_uses[i]
        names = tenant_use.names  # `HolderAgreements.grants_any`, inline
        if not grants.isdisjoint(names.families) or (by_artifact and not grants.isdisjoint(names.artifacts)):
            if parts is None:
                parts = list(whole_parts)
            use = tenant_use.use
            shared = whole_parts[i]  # the license judged for these facts without agreements
            steps: LicenseSteps | None = use.tenant_steps.get(shared)  # a key by identity
            if steps is None:
                ctx = tenant_context(tenant_id, profile, regions, purpose)
                steps = license_steps(use, ctx, use_cases, output_use, tenant_use.grants_apply)
                use.tenant_steps.keep(shared, steps, MEMO_PER_USE)
            # not remembered: it relies on the tenant's own agreements
            parts[i] = judged_with_own_agreements(use, steps, index, usage, date)
    if parts is None:
        return whole
    return combine_judgements(parts)


def open_to_agreements(view: PurposeView, failing: Sequence[int]) -> AgreementNames | None:
    """The license families and artifacts that a tenant's agreement granting the view's purpose
    would have to name to change the judgement of `tenant_judgement` every tenant with some facts
    gets, as keys of `HolderAgreements.grants` (see `HolderAgreements.grants_any`): those of the
    licenses that fail to hold for these facts and would look for an agreement (`failing`, their
    positions in `view.tenant_uses`)."""
    if not failing:
        return None
    bits = 0
    for i in failing:
        bits |= 1 << i
    found = view.open_to.get(bits, view)
    if found is view:
        families: set[str] = set()
        artifacts: set[str] = set()
        for i in failing:
            names = view.tenant_uses[i].names
            families.update(names.families)
            artifacts.update(names.artifacts)
        found = view.open_to[bits] = AgreementNames(tuple(sorted(families)), tuple(sorted(artifacts)))
    return found  # type: ignore[return-value]


def _judged_for_facts(
    plan: StackPlan,
    view: PurposeView,
    snapshot: CatalogSnapshot,
    tenant_id: str,
    profile: TenantProfile,
    regions: tuple[str, ...],
    purpose: Purpose,
    output_use: OutputUse,
    use_cases: frozenset[UseCase],
    cases: tuple[str, ...],
    date: dt.date,
) -> Judgement:
    """The stack's licenses judged for a tenant without agreements, each taken from what any stack
    remembers for the facts that license alone reads where it can."""
    territory = (profile.country, regions)
    plain_purpose = view.plain_purpose
    ctx: PartyContext | None = None
    parts = []
    failing: list[int] = []
    read: dict[FactReader, tuple[object, ...]] = {}  # licenses of one kind read alike
    for i, tenant_use in enumerate(view.tenant_uses):
        use, grants_apply, reader = tenant_use.use, tenant_use.grants_apply, tenant_use.reader
        facts_read = read.get(reader)
        if facts_read is None:
            facts_read = read[reader] = reader.read(profile, territory)
        # Tenants are paid or host for others according to their purpose alone, the raw
        # territory stands for the expanded one, and output uses the license does not mention
        # are judged alike: these facts are all the judgement reads.
        facts = (plain_purpose, tenant_use.output_key, cases, grants_apply, facts_read)
        part = use.tenant_judgements.get(facts)
        if part is None:
            part = shared_tenant_judgement(use, facts)
            if part is None:
                if ctx is None:
                    ctx = tenant_context(tenant_id, profile, regions, purpose)
                part = judge_without_agreements(use, facts, ctx, date, use_cases, output_use, grants_apply)
            keep(use.tenant_judgements, facts, part, MEMO_LIMIT)
        parts.append(part)
        if part.worst and tenant_use.takes_agreement:
            failing.append(i)
    parts.append(_tenant_creators(plan, snapshot, tenant_id, profile, regions, purpose, output_use))
    return combine_judgements(
        parts, keep_parts=True, open_to=open_to_agreements(view, failing), failing=tuple(failing)
    )


def operator_judgement(
    plan: StackPlan,
    snapshot: CatalogSnapshot,
    key: tuple[object, ...],
    purpose: Purpose,
    regions: tuple[str, ...],
    tenant_profile: TenantProfile,
    use_cases: frozenset[UseCase],
    date: dt.date,
    usage: Mapping[str, int],
) -> Judgement:
    """The operator's judgement as a licensee on the stack, for `purpose` (hosted_service when it
    charges), when none remembered under `key` holds; the regions it serves are the tenant's
    end-user regions and country."""
    operator = snapshot.operator
    profile = operator.profile
    ctx = _operator_context(
        operator.id,
        profile,
        purpose,
        _regions(profile.country, (*regions, *_country(tenant_profile))),
        plan.operator_charges,
    )
    index = snapshot.agreements_of(operator.id)
    situation = (ctx.key, use_cases_key(use_cases), None)
    parts = [
        operator_judgement_of(use, ctx, index, usage, date, use_cases, situation, grants_apply)
        for use, grants_apply in plan.uses
    ]
    parts.append(_creators(plan, snapshot, ctx, index, usage, None))
    judgement = combine_judgements(parts, windowed=True)
    if judgement.window is not ALWAYS:
        said = (judgement.reasons, judgement.obligations, judgement.agreements, judgement.worst)
        first: Judgement | None = recall_kept(plan.operator_sayings, said)
        if first is None:
            keep(plan.operator_sayings, said, judgement, MEMO_LIMIT)
        else:
            judgement = msgspec.structs.replace(judgement, same_as=first)
    remember(plan.operator_parts, key, judgement, MEMO_LIMIT)
    return judgement


@lru_cache(maxsize=256)
def _operator_context(
    holder: str, profile: TenantProfile, purpose: Purpose, regions: frozenset[str], charges: bool
) -> PartyContext:
    """The operator as a licensee (few distinct ones: shared, and so is the key of what it reads)."""
    return PartyContext(
        party=Party.OPERATOR,
        holder=holder,
        purpose=purpose,
        profile=profile,
        regions=regions,
        country_known=profile.country is not None,
        receives_payment=charges or purpose in COMMERCIAL_PURPOSES,
        hosts_for_third_parties=True,
    )


def tenant_context(
    tenant_id: str, profile: TenantProfile, regions: tuple[str, ...], purpose: Purpose
) -> PartyContext:
    return PartyContext(
        party=_TENANT,
        holder=tenant_id,
        purpose=purpose,
        profile=profile,
        regions=_regions(profile.country, regions),
        country_known=profile.country is not None,
        receives_payment=purpose in COMMERCIAL_PURPOSES,
        hosts_for_third_parties=purpose is _HOSTED_SERVICE,
    )


def combine_judgements(
    parts: Sequence[Judgement],
    *,
    windowed: bool = False,
    keep_parts: bool = False,
    open_to: AgreementNames | None = None,
    failing: tuple[int, ...] = (),
) -> Judgement:
    """The judgements of several licenses of one party, in order, as one; its window of dates
    is worked out only for a judgement to be remembered (`windowed`, the parts' windows worked
    out too)."""
    reasons: list[Reason] = []
    obligations: list[ObligationDue] = []
    agreements: list[str] = []
    consulted: list[int] = []
    worst = 0
    for part in parts:
        reasons += part.reasons
        if part.obligations:
            obligations += part.obligations
        if part.agreements:
            agreements += part.agreements
        if part.consulted:
            consulted += part.consulted
        if part.worst > worst:
            worst = part.worst
    # licenses of one family consult the same agreements: each is named once
    checked = tuple(dict.fromkeys(consulted)) if consulted else ()
    return Judgement(
        reasons=tuple(reasons),
        obligations=tuple(obligations),
        agreements=tuple(dict.fromkeys(agreements)) if agreements else (),
        worst=worst,
        window=windows_meet([part.window for part in parts]) if checked and windowed else ALWAYS,
        consulted=checked,
        parts=tuple(parts) if keep_parts else (),
        open_to=open_to,
        failing=failing,
    )


def _tenant_creators(
    plan: StackPlan,
    snapshot: CatalogSnapshot,
    tenant_id: str,
    profile: TenantProfile,
    regions: tuple[str, ...],
    purpose: Purpose,
    output_use: OutputUse,
) -> Judgement:
    """Creator flags read the tenant's purpose and output use only: judged once per stack."""
    licenses = plan.licenses
    if licenses is None or not licenses.creators or plan.provider_terms:
        return NO_FLAGS
    key = (PLAIN[purpose], PLAIN[output_use])
    found = plan.creator_judgements.get(key)
    if found is None:
        ctx = tenant_context(tenant_id, profile, regions, purpose)
        found = plan.creator_judgements[key] = _creators(plan, snapshot, ctx, NO_AGREEMENTS, {}, output_use)
    return found


def _creators(
    plan: StackPlan,
    snapshot: CatalogSnapshot,
    ctx: PartyContext,
    index: HolderAgreements,
    usage: Mapping[str, int],
    output_use: OutputUse | None,
) -> Judgement:
    """Civitai creator flags of the stack (they read the party's purpose and output use only)."""
    verdict = Verdict(ctx, index, usage)
    licenses = plan.licenses
    if licenses is not None and not plan.provider_terms:
        for artifact_id, permissions in licenses.creators:
            judge_creator(
                artifact_id,
                snapshot.artifacts[artifact_id].license,
                permissions,
                verdict,
                output_use,
                plan.operator_charges and plan.runner is not None,
            )
    return Judgement(
        reasons=tuple(verdict.reasons),
        obligations=tuple(verdict.obligations),
        agreements=(),
        worst=verdict.worst,
        window=ALWAYS,
        consulted=(),
    )


def _country(profile: TenantProfile) -> tuple[str, ...]:
    return (profile.country,) if profile.country else ()


@lru_cache(maxsize=1_024)
def _regions(country: str | None, regions: tuple[str, ...]) -> frozenset[str]:
    """Expanded regions of a party (few distinct ones: remembered)."""
    return expand_regions((country, *regions) if country else regions)
