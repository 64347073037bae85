"""Mapping between catalog entries (Structs) and their rows, both ways.

`*_values` give the column values of an entry (without association rows); `*_from_rows` rebuild
the entry, so that an entry read back equals the entry written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registry.catalog.entries import (
    OPERATOR,
    Agreement,
    Artifact,
    LicenseDocument,
    Operator,
    Runner,
    Tenant,
    TenantProfile,
    split_license_ref,
)
from registry.db.catalog_tables import (
    AgreementRow,
    ArtifactRow,
    LicenseDocumentRow,
    OperatorRow,
    RunnerRow,
    TenantRow,
)
from registry.vocabulary import (
    ArtifactKind,
    BaseRelation,
    HostKind,
    OrganisationType,
    Purpose,
    RunnerKind,
    Verification,
)

OPERATOR_ROW = 1
"""Primary key of the operator's single row."""


def license_values(document: LicenseDocument) -> dict[str, Any]:
    return {
        "key": document.key,
        "version": document.version,
        "title": document.title,
        "licensor": document.licensor,
        "family": document.family,
        "url": document.url,
        "text_sha256": document.text_sha256,
        "spdx_id": document.spdx_id,
        "hf_aliases": document.hf_aliases,
        "verification": document.verification.value,
        "verification_note": document.verification_note,
        "service_terms": document.service_terms,
        "retired": document.retired,
        "terms": document.terms,
    }


def license_from_row(row: LicenseDocumentRow) -> LicenseDocument:
    return LicenseDocument(
        key=row.key,
        version=row.version,
        title=row.title,
        licensor=row.licensor,
        family=row.family,
        terms=row.terms,
        url=row.url,
        text_sha256=row.text_sha256,
        spdx_id=row.spdx_id,
        hf_aliases=tuple(row.hf_aliases),
        verification=Verification(row.verification),
        verification_note=row.verification_note,
        service_terms=row.service_terms,
        retired=row.retired,
    )


def artifact_values(artifact: Artifact) -> dict[str, Any]:
    key, version = split_license_ref(artifact.license)
    return {
        "id": artifact.id,
        "kind": artifact.kind.value,
        "name": artifact.name,
        "license_key": key,
        "license_version": version,
        "family": artifact.family,
        "source": artifact.source,
        "base_relation": artifact.base_relation.value if artifact.base_relation else None,
        "declared_license": artifact.declared_license,
        "license_flags": artifact.license_flags,
        "creator_permissions": artifact.creator_permissions,
        "recommended": artifact.recommended,
        "always_on": artifact.always_on,
        "gated": artifact.gated,
        "description": artifact.description,
        "retired": artifact.retired,
    }


def artifact_from_row(row: ArtifactRow, bases: Sequence[str], components: Sequence[str]) -> Artifact:
    return Artifact(
        id=row.id,
        kind=ArtifactKind(row.kind),
        name=row.name,
        license=f"{row.license_key}@{row.license_version}",
        family=row.family,
        source=row.source,
        bases=tuple(bases),
        base_relation=BaseRelation(row.base_relation) if row.base_relation else None,
        components=tuple(components),
        declared_license=row.declared_license,
        license_flags=tuple(row.license_flags),
        creator_permissions=row.creator_permissions,
        recommended=row.recommended,
        always_on=row.always_on,
        gated=row.gated,
        description=row.description,
        retired=row.retired,
    )


def tenant_values(tenant: Tenant) -> dict[str, Any]:
    profile = tenant.profile
    return {
        "id": tenant.id,
        "name": tenant.name,
        "organisation_type": profile.organisation_type.value if profile.organisation_type else None,
        "country": profile.country,
        "end_user_regions": profile.end_user_regions,
        "annual_revenue_usd": profile.annual_revenue_usd,
        "monthly_active_users": profile.monthly_active_users,
        "image_generation_core_business": profile.image_generation_core_business,
        "registrations": profile.registrations,
        "default_purpose": tenant.default_purpose.value if tenant.default_purpose else None,
        "retired": tenant.retired,
        "limits": tenant.limits,
    }


def tenant_from_row(row: TenantRow) -> Tenant:
    profile = TenantProfile(
        organisation_type=OrganisationType(row.organisation_type) if row.organisation_type else None,
        country=row.country,
        end_user_regions=tuple(row.end_user_regions),
        annual_revenue_usd=row.annual_revenue_usd,
        monthly_active_users=row.monthly_active_users,
        image_generation_core_business=row.image_generation_core_business,
        registrations=tuple(row.registrations),
    )
    return Tenant(
        id=row.id,
        name=row.name,
        profile=profile,
        default_purpose=Purpose(row.default_purpose) if row.default_purpose else None,
        retired=row.retired,
        limits=row.limits,
    )


def operator_values(operator: Operator) -> dict[str, Any]:
    return {
        "singleton": OPERATOR_ROW,
        "id": operator.id,
        "name": operator.name,
        "charges_tenants": operator.charges_tenants,
        "profile": operator.profile,
    }


def operator_from_row(row: OperatorRow) -> Operator:
    return Operator(id=row.id, name=row.name, profile=row.profile, charges_tenants=row.charges_tenants)


def agreement_values(agreement: Agreement) -> dict[str, Any]:
    by_operator = agreement.holder == OPERATOR
    return {
        "id": agreement.id,
        "holder": "operator" if by_operator else "tenant",
        "tenant_id": None if by_operator else agreement.holder,
        "licensor": agreement.licensor,
        "title": agreement.title,
        "covers": agreement.covers,
        "purposes": agreement.purposes,
        "valid_from": agreement.valid_from,
        "valid_until": agreement.valid_until,
        "monthly_quota": agreement.monthly_quota,
        "obligations": agreement.obligations,
        "revoked_at": agreement.revoked_at,
    }


def agreement_from_row(row: AgreementRow) -> Agreement:
    return Agreement(
        id=row.id,
        holder=row.tenant_id if row.tenant_id is not None else OPERATOR,
        licensor=row.licensor,
        covers=row.covers,
        purposes=tuple(row.purposes),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        monthly_quota=row.monthly_quota,
        obligations=tuple(row.obligations),
        revoked_at=row.revoked_at,
        title=row.title,
    )


def runner_values(runner: Runner) -> dict[str, Any]:
    key, version = split_license_ref(runner.service_terms) if runner.service_terms else (None, None)
    return {
        "id": runner.id,
        "kind": runner.kind.value,
        "host": runner.host.value,
        "provider": runner.provider,
        "service_terms_key": key,
        "service_terms_version": version,
        "region": runner.region,
        "price_per_image_usd": runner.price_per_image_usd,
        "price_per_megapixel_usd": runner.price_per_megapixel_usd,
        "capacity": runner.capacity,
        "enabled": runner.enabled,
        "paused": runner.paused,
        "endpoint": runner.endpoint,
        "config": runner.config,
    }


def runner_from_row(row: RunnerRow, artifacts: Sequence[str]) -> Runner:
    service_terms = (
        f"{row.service_terms_key}@{row.service_terms_version}" if row.service_terms_key is not None else None
    )
    return Runner(
        id=row.id,
        kind=RunnerKind(row.kind),
        host=HostKind(row.host),
        artifacts=tuple(artifacts),
        provider=row.provider,
        service_terms=service_terms,
        region=row.region,
        price_per_image_usd=row.price_per_image_usd,
        price_per_megapixel_usd=row.price_per_megapixel_usd,
        capacity=row.capacity,
        enabled=row.enabled,
        paused=row.paused,
        endpoint=row.endpoint,
        config=dict(row.config),
    )
