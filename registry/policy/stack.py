"""A (model, adapters, runner) stack compiled once: everything about it that no tenant changes.

The merged effective licenses, the catalog faults it runs into, whether the operator is a
licensee on it, the effective-license entries a decision lists, and what each purpose and output
use reads of a tenant. Judgements of whole parties on the stack are remembered here too
(`party.tenant_judgement`, `evaluate`): keyed by the facts they read, so any tenant with the same
facts and no agreement that could change them gets them without a single license being judged
again.
"""

from __future__ import annotations

from typing import Any

import msgspec

from registry.catalog.entries import Runner
from registry.policy.agreements import ARTIFACT, FAMILY, AgreementNames, grant_key
from registry.policy.decision import AppliedLicense, AppliedVia
from registry.policy.facts import NOTHING, FactReader, license_reader
from registry.policy.identity import decision_id_prefix
from registry.policy.judgement_memo import may_take_agreement
from registry.policy.keys import PLAIN, Memo
from registry.policy.snapshot import CatalogSnapshot, LicenseUse, RequestLicenses
from registry.vocabulary import ArtifactKind, HostKind, OutputUse, Purpose

_STACKS_LIMIT = 65_536
MEMO_LIMIT = 2_048
"""Entries per memo of one stack before it starts afresh (bounded memory, no LRU cost)."""


class TenantUse(msgspec.Struct, frozen=True, eq=False, gc=False):
    """One license use of the stack with what its tenant judgement reads (untracked by the
    collector: views hold many)."""

    use: LicenseUse
    grants_apply: bool
    reader: FactReader
    takes_agreement: bool
    """Its grant or output term does not hold outright: an agreement is looked for
    (`judgement_memo.may_take_agreement`)."""
    names: AgreementNames
    """What an agreement granting the purpose would name to cover it: its family, or the
    artifacts it applies to (`HolderAgreements.grants_any`)."""
    output_key: str | None
    """The output use where the license speaks about it (its output terms or a territory that
    covers outputs, when its grants apply), else None: output uses it does not mention are
    judged alike."""


class PurposeView(msgspec.Struct, frozen=True, eq=False, gc=False):
    """A stack seen by requests of one purpose and output use."""

    reader: FactReader
    """What the tenant's judgements read of it."""
    output_key: OutputUse | None
    """See `StackPlan.output_key`."""
    operator_purpose: Purpose
    operator_territory: bool
    """Whether the operator's judgements read the territory it serves."""
    tenant_uses: tuple[TenantUse, ...]
    """`StackPlan.uses` with what each license's tenant judgement reads of the tenant."""
    plain_purpose: str
    plain_output_key: str | None
    plain_operator_purpose: str
    """The purposes and output key as plain values (`keys`), the same objects in every memo key
    made on the stack: lookups compare them by identity."""
    open_to: dict[int, AgreementNames | None] = msgspec.field(default_factory=dict)
    """`party.open_to_agreements` by which of `tenant_uses` fail and take an agreement (bit i for
    `tenant_uses[i]`)."""


class StackPlan(msgspec.Struct, eq=False, gc=False):
    """What the snapshot says about one stack on one runner, for every request that names it
    (untracked by the collector: it forms no cycles)."""

    errors: tuple[str, ...]
    """Unknown or unfit model, adapters or runner: a deny whoever asks."""
    license_errors: tuple[str, ...]
    """Catalog faults of the licenses (missing documents, bases, service terms), reported when
    nothing else is wrong."""
    runner: Runner | None
    licenses: RequestLicenses | None
    service: LicenseUse | None
    provider_terms: bool
    """A provider's service terms govern the hosted use; weight licenses keep only restrictions."""
    operator_judged: bool
    """The operator is judged as a licensee (hosts the weights, resells a service, or charges)."""
    operator_charges: bool
    applied: tuple[AppliedLicense, ...]
    uses: tuple[tuple[LicenseUse, bool], ...]
    """Every license use judged for a party, in order, with whether its grants apply."""
    id_prefix: bytes
    """The SHA-1 state after what the uuid5 name of every decision on the stack starts with
    (`identity.decision_id_prefix`)."""
    readers: dict[tuple[object, ...], FactReader] = msgspec.field(default_factory=dict)
    output_keys: dict[OutputUse, OutputUse | None] = msgspec.field(default_factory=dict)
    tenant_parts: Memo = msgspec.field(default_factory=Memo)
    creator_judgements: dict[tuple[object, ...], Any] = msgspec.field(default_factory=dict)
    """A tenant's judgement on the creator flags, per purpose and output use."""
    operator_parts: Memo = msgspec.field(default_factory=Memo)
    operator_sayings: Memo = msgspec.field(default_factory=Memo)
    """The first operator judgement per content (reasons, obligations, agreements, severity)."""
    decisions: Memo = msgspec.field(default_factory=Memo)
    """Whole decisions for tenants without agreements on the stack, by the operator judgement
    and the tenant's facts."""
    views: dict[tuple[str, str], PurposeView] = msgspec.field(default_factory=dict)
    """By plain purpose and output use (members find them: they hash and compare as their values)."""

    def view(self, purpose: Purpose, output_use: OutputUse) -> PurposeView:
        """What a request for this purpose and output use needs of the stack, in one lookup."""
        found = self.views.get((purpose, output_use))
        if found is None:
            operator_purpose = Purpose.HOSTED_SERVICE if self.operator_charges else purpose
            output_key = self.output_key(output_use)
            found = self.views[(purpose.value, output_use.value)] = PurposeView(
                reader=self.reader(purpose, output_use),
                output_key=output_key,
                operator_purpose=operator_purpose,
                operator_territory=self.operator_judged and self.reader(operator_purpose, None).territory,
                tenant_uses=tuple(  # from a list: faster than a generator
                    [
                        _tenant_use(use, grants_apply, purpose, output_use)
                        for use, grants_apply in self.uses
                        if use.license is not None
                    ]
                ),
                plain_purpose=purpose.value,
                plain_output_key=output_key.value if output_key is not None else None,
                plain_operator_purpose=operator_purpose.value,
            )
        return found

    def output_key(self, output_use: OutputUse) -> OutputUse | None:
        """`output_use` where a license (or creator flag) of the stack speaks about it, else None:
        tenants using outputs in ways nothing here mentions are judged alike."""
        found = self.output_keys.get(output_use, self)
        if found is self:
            licenses = self.licenses
            speaks = bool(licenses is not None and licenses.creators and not self.provider_terms) or any(
                use.license is not None
                and (output_use in use.license.output_plans or use.license.territory_covers_outputs)
                for use, grants_apply in self.uses
                if grants_apply
            )
            found = self.output_keys[output_use] = output_use if speaks else None
        return found  # type: ignore[return-value]

    def reader(self, purpose: Purpose, output_use: OutputUse | None) -> FactReader:
        """All that the judgements of every license of the stack read of a party."""
        key = (PLAIN[purpose], PLAIN[output_use])
        found = self.readers.get(key)
        if found is None:
            readers = []
            for use, grants_apply in self.uses:
                lic = use.license
                if lic is None:
                    continue
                if grants_apply:
                    readers.append(license_reader(lic, purpose, output_use))
            found = self.readers[key] = NOTHING.merged(readers)
        return found


def _tenant_use(use: LicenseUse, grants_apply: bool, purpose: Purpose, output_use: OutputUse) -> TenantUse:
    lic = use.license
    assert lic is not None
    return TenantUse(
        use,
        grants_apply,
        license_reader(lic, purpose, output_use),
        may_take_agreement(use, purpose, output_use, grants_apply),
        AgreementNames(
            (grant_key(FAMILY, purpose, lic.family),),
            tuple(sorted({grant_key(ARTIFACT, purpose, a) for covered in use.coverage for a in covered})),
        ),
        output_use.value
        if grants_apply and (output_use in lic.output_plans or lic.territory_covers_outputs)
        else None,
    )


def stack_plan(
    snapshot: CatalogSnapshot, model_id: str, adapter_ids: tuple[str, ...], runner_id: str | None
) -> StackPlan:
    """The compiled stack, built on first use and kept on the snapshot (bounded)."""
    key = (model_id, adapter_ids, runner_id)
    stacks = snapshot.stack_plans
    found = stacks.get(key)
    if found is None:
        found = _build(snapshot, model_id, adapter_ids, runner_id)
        if len(stacks) >= _STACKS_LIMIT:
            stacks.clear()
        stacks[key] = found
    return found


def _build(
    snapshot: CatalogSnapshot, model_id: str, adapter_ids: tuple[str, ...], runner_id: str | None
) -> StackPlan:
    errors: list[str] = []
    id_prefix = decision_id_prefix(snapshot.version, runner_id)
    _check_artifacts(model_id, adapter_ids, snapshot, errors)
    runner: Runner | None = None
    if runner_id is not None:
        runner = snapshot.runners.get(runner_id)
        if runner is None:
            errors.append(f"runner {runner_id!r} is not in the catalog")
        elif not runner.enabled:
            errors.append(f"runner {runner_id!r} is disabled")
        elif model_id not in runner.artifacts:
            errors.append(f"runner {runner_id!r} does not serve {model_id!r}")
    operator = snapshot.operator
    charges = operator.charges_tenants
    if errors:
        return StackPlan(tuple(errors), (), runner, None, None, False, False, charges, (), (), id_prefix)
    licenses = snapshot.request_licenses(model_id, adapter_ids)
    license_errors = list(licenses.problems)
    service: LicenseUse | None = None
    if runner is not None and runner.service_terms is not None:
        service = _service_use(runner, snapshot, license_errors)
    provider_terms = runner is not None and runner.host is HostKind.PROVIDER and service is not None
    operator_judged = runner is not None and (runner.host is HostKind.OPERATOR or provider_terms or charges)
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
    uses: list[tuple[LicenseUse, bool]] = []
    if service is not None:
        uses.append((service, True))
    uses.extend((use, not provider_terms) for use in licenses.uses if use.license is not None)
    return StackPlan(
        errors=(),
        license_errors=tuple(license_errors),
        runner=runner,
        licenses=licenses,
        service=service,
        provider_terms=provider_terms,
        operator_judged=operator_judged,
        operator_charges=charges,
        applied=applied,
        uses=tuple(uses),
        id_prefix=id_prefix,
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
        coverage=(tuple(sorted({runner.id, *runner.artifacts})),),
        restrictions_bind=True,
    )


def _check_artifacts(
    model_id: str, adapter_ids: tuple[str, ...], snapshot: CatalogSnapshot, errors: list[str]
) -> None:
    model = snapshot.artifacts.get(model_id)
    if model is None:
        errors.append(f"model {model_id!r} is not in the catalog")
    elif model.kind not in (ArtifactKind.BASE_MODEL, ArtifactKind.PROVIDER_SERVICE):
        errors.append(f"model {model_id!r} is a {model.kind.value}, not a base model or provider service")
    elif model.retired:
        errors.append(f"model {model_id!r} is retired")
    for adapter_id in adapter_ids:
        adapter = snapshot.artifacts.get(adapter_id)
        if adapter is None:
            errors.append(f"adapter {adapter_id!r} is not in the catalog")
        elif adapter.kind is not ArtifactKind.ADAPTER:
            errors.append(f"adapter {adapter_id!r} is a {adapter.kind.value}, not an adapter")
        elif adapter.retired:
            errors.append(f"adapter {adapter_id!r} is retired")
