"""How a tenant sees the catalog: each model with its effective licenses and the purposes the
policy engine lets this tenant use it for on a given day.

Built from a `CatalogRevision` once per (tenant, day) and memoised on it, so a listing costs a
dictionary lookup, not a policy evaluation per model and purpose.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from gateway.catalog.cache import CatalogRevision
from registry.catalog.entries import Artifact, InferenceSettings, LicenseDocument
from registry.policy import AppliedVia, PolicyRequest, evaluate
from registry.vocabulary import ArtifactKind, Decision, GrantStatus, Purpose, Verification

_RUNNABLE = (ArtifactKind.BASE_MODEL, ArtifactKind.PROVIDER_SERVICE)


class LicenseSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One license document in short: who grants what, per purpose, before any condition."""

    ref: str
    """`key@version`."""
    title: str
    licensor: str
    family: str
    grants: dict[str, GrantStatus]
    """Purpose -> grant status as written in the license (conditions not yet applied)."""
    verification: Verification
    spdx_id: str | None = None
    url: str | None = None
    retired: bool = False


class EffectiveLicense(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A license that applies to the model, and how it reaches it."""

    license: LicenseSummary
    via: AppliedVia
    """`own`, `base` (inherited from a base model) or `component`."""
    source: str
    """The artifact whose own license this is."""


class PurposeVerdict(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    purpose: Purpose
    decision: Decision
    runner_id: str | None = None
    obligations: int = 0


class ModelView(
    msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag_field="object", tag="model"
):
    """An artifact as a tenant sees it; `"object": "model"`, `id` and `owned_by` make it an
    OpenAI model object too (`client.models.list()` and `.retrieve()` of the openai client)."""

    id: str
    kind: ArtifactKind
    name: str
    owned_by: str
    """The licensor of the artifact's own license (OpenAI's field for who publishes a model)."""
    license: str
    """The artifact's own license (`key@version`); `effective_licenses` adds its bases' and
    components' terms, the most restrictive of which win."""
    effective_licenses: tuple[EffectiveLicense, ...]
    usable_for: tuple[Purpose, ...]
    """Purposes this tenant may use the model for today (allow or allow with obligations)."""
    purposes: tuple[PurposeVerdict, ...]
    """The decision for every purpose (generation for internal output use)."""
    runners: tuple[str, ...] = ()
    family: str | None = None
    bases: tuple[str, ...] = ()
    components: tuple[str, ...] = ()
    declared_license: str | None = None
    recommended: InferenceSettings | None = None
    gated: str | None = None
    description: str | None = None
    as_of: dt.date | None = None


class ModelList(msgspec.Struct, frozen=True, kw_only=True, tag_field="object", tag="list"):
    """`GET /v1/models`: the shape OpenAI's model list has."""

    data: tuple[ModelView, ...]


class LicenseVersions(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    versions: tuple[LicenseDocument, ...]


def license_summary(document: LicenseDocument) -> LicenseSummary:
    return LicenseSummary(
        ref=document.ref,
        title=document.title,
        licensor=document.licensor,
        family=document.family,
        grants={grant.purpose.value: grant.status for grant in document.terms.grants},
        verification=document.verification,
        spdx_id=document.spdx_id,
        url=document.url,
        retired=document.retired,
    )


def tenant_models(revision: CatalogRevision, tenant_id: str, date: dt.date) -> dict[str, ModelView]:
    """Every non-retired artifact as `tenant_id` sees it on `date`, by id (memoised)."""
    result: dict[str, ModelView] = revision.memoised(
        "models", tenant_id, date, lambda: _build_models(revision, tenant_id, date)
    )
    return result


def tenant_models_json(revision: CatalogRevision, tenant_id: str, date: dt.date) -> bytes:
    """The listing already encoded, `{"object": "list", "data": [...]}` as OpenAI's model list:
    it is the same bytes for every request of the day."""
    encoded: bytes = revision.memoised(
        "models-json",
        tenant_id,
        date,
        lambda: (
            b'{"object":"list","data":%s}'
            % msgspec.json.encode(list(tenant_models(revision, tenant_id, date).values()))
        ),
    )
    return encoded


def _build_models(revision: CatalogRevision, tenant_id: str, date: dt.date) -> dict[str, ModelView]:
    documents = {document.ref: document for document in revision.catalog.licenses}
    summaries = {ref: license_summary(document) for ref, document in documents.items()}
    return {
        artifact.id: _model_view(revision, artifact, summaries, tenant_id, date)
        for artifact in revision.catalog.artifacts
        if not artifact.retired
    }


def _model_view(
    revision: CatalogRevision,
    artifact: Artifact,
    summaries: dict[str, LicenseSummary],
    tenant_id: str,
    date: dt.date,
) -> ModelView:
    snapshot = revision.snapshot
    lineage = snapshot.artifact_licenses.get(artifact.id)
    effective: list[EffectiveLicense] = []
    seen: set[tuple[str, str]] = set()
    for applied in lineage.applied if lineage is not None else ():
        summary = summaries.get(applied.license)
        if summary is None or (applied.license, applied.source) in seen:
            continue
        seen.add((applied.license, applied.source))
        effective.append(EffectiveLicense(license=summary, via=applied.via, source=applied.source))
    verdicts = _purpose_verdicts(revision, artifact, tenant_id, date)
    runners = tuple(runner.id for runner in snapshot.candidate_runners(artifact.id))
    return ModelView(
        id=artifact.id,
        kind=artifact.kind,
        name=artifact.name,
        owned_by=summary.licensor
        if (summary := summaries.get(artifact.license)) is not None
        else artifact.id.partition("/")[0],
        license=artifact.license,
        effective_licenses=tuple(effective),
        usable_for=tuple(v.purpose for v in verdicts if v.decision in _PERMITTED),
        purposes=verdicts,
        runners=runners,
        family=artifact.family,
        bases=artifact.bases,
        components=artifact.components,
        declared_license=artifact.declared_license,
        recommended=artifact.recommended,
        gated=artifact.gated,
        description=artifact.description,
        as_of=date,
    )


_PERMITTED = (Decision.ALLOW, Decision.ALLOW_WITH_OBLIGATIONS)


def _purpose_verdicts(
    revision: CatalogRevision, artifact: Artifact, tenant_id: str, date: dt.date
) -> tuple[PurposeVerdict, ...]:
    """Adapters are judged on their first base; components are not generated with on their own."""
    adapters: tuple[str, ...]
    if artifact.kind in _RUNNABLE:
        model_id, adapters = artifact.id, ()
    elif artifact.kind is ArtifactKind.ADAPTER and artifact.bases:
        model_id, adapters = artifact.bases[0], (artifact.id,)
    else:
        return ()
    verdicts = []
    for purpose in Purpose:
        decision = evaluate(
            PolicyRequest(
                tenant_id=tenant_id,
                model_id=model_id,
                adapter_ids=adapters,
                purpose=purpose,
                date=date,
                max_alternatives=0,
            ),
            revision.snapshot,
        )
        verdicts.append(
            PurposeVerdict(
                purpose=purpose,
                decision=Decision(decision.decision),
                runner_id=decision.runner_id,
                obligations=len(decision.obligations),
            )
        )
    return tuple(verdicts)
