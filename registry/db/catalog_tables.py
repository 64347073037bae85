"""ORM models of the catalog: licenses, artifacts, tenants, the operator, agreements, runners.

Rows mirror the Structs of `registry.catalog.entries`; nested documents (license terms, sources,
inference settings, obligations) are JSON validated through those Structs on every write.
Relationships are `lazy="raise"`: load what you need explicitly (`selectinload`).
Enum-valued columns whose set of values is structural carry a CHECK; open-ended vocabularies
(runner kinds, purposes) are validated by the Structs only, so extending them needs no migration.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Double,
    ForeignKey,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from registry.catalog.entries import (
    AgreementCoverage,
    CreatorPermissions,
    InferenceSettings,
    Source,
    TenantLimits,
    TenantProfile,
)
from registry.db.base import Base
from registry.db.struct_json import StructJson
from registry.terms import LicenseTerms, Obligation
from registry.vocabulary import ArtifactKind, BaseRelation, HostKind, Purpose, Verification

ID_LENGTH = 200
"""Length of catalog ids (the `Slug` pattern allows at most 200 characters)."""


def _one_of(column: str, values: list[str]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class LicenseDocumentRow(Base):
    __tablename__ = "license_documents"
    __table_args__ = (
        CheckConstraint(_one_of("verification", [v.value for v in Verification]), name="verification"),
    )

    key: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    licensor: Mapped[str] = mapped_column(String(200))
    family: Mapped[str] = mapped_column(String(ID_LENGTH), index=True)
    url: Mapped[str | None] = mapped_column(String(1000))
    text_sha256: Mapped[str | None] = mapped_column(String(64))
    spdx_id: Mapped[str | None] = mapped_column(String(200))
    hf_aliases: Mapped[tuple[str, ...]] = mapped_column(StructJson(tuple[str, ...]))
    verification: Mapped[str] = mapped_column(String(32))
    verification_note: Mapped[str | None] = mapped_column(String(2000))
    service_terms: Mapped[bool] = mapped_column(Boolean)
    retired: Mapped[bool] = mapped_column(Boolean)
    terms: Mapped[LicenseTerms] = mapped_column(StructJson(LicenseTerms))


class ArtifactRow(Base):
    __tablename__ = "artifacts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["license_key", "license_version"],
            ["license_documents.key", "license_documents.version"],
        ),
        CheckConstraint(_one_of("kind", [k.value for k in ArtifactKind]), name="kind"),
        CheckConstraint(
            "base_relation IS NULL OR " + _one_of("base_relation", [r.value for r in BaseRelation]),
            name="base_relation",
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(300))
    license_key: Mapped[str] = mapped_column(String(ID_LENGTH))
    license_version: Mapped[str] = mapped_column(String(64))
    family: Mapped[str | None] = mapped_column(String(64))
    source: Mapped[Source | None] = mapped_column(StructJson(Source))
    base_relation: Mapped[str | None] = mapped_column(String(32))
    declared_license: Mapped[str | None] = mapped_column(String(300))
    license_flags: Mapped[tuple[str, ...]] = mapped_column(StructJson(tuple[str, ...]))
    creator_permissions: Mapped[CreatorPermissions | None] = mapped_column(StructJson(CreatorPermissions))
    recommended: Mapped[InferenceSettings | None] = mapped_column(StructJson(InferenceSettings))
    always_on: Mapped[bool] = mapped_column(Boolean)
    gated: Mapped[str | None] = mapped_column(String(1000))
    description: Mapped[str | None] = mapped_column(String(4000))
    retired: Mapped[bool] = mapped_column(Boolean)

    bases: Mapped[list[ArtifactBaseRow]] = relationship(
        foreign_keys="ArtifactBaseRow.artifact_id",
        order_by="ArtifactBaseRow.position",
        lazy="raise",
        viewonly=True,
    )
    components: Mapped[list[ArtifactComponentRow]] = relationship(
        foreign_keys="ArtifactComponentRow.artifact_id",
        order_by="ArtifactComponentRow.position",
        lazy="raise",
        viewonly=True,
    )


class ArtifactBaseRow(Base):
    """`artifact_id` derives from `base_id` (an adapter from its base model), in declared order."""

    __tablename__ = "artifact_bases"
    __table_args__ = (
        UniqueConstraint("artifact_id", "position"),
        CheckConstraint("artifact_id <> base_id", name="not_own_base"),
        CheckConstraint("position >= 0", name="position"),
    )

    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True)
    base_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class ArtifactComponentRow(Base):
    """`artifact_id` bundles `component_id` (a text encoder, a VAE), in declared order."""

    __tablename__ = "artifact_components"
    __table_args__ = (
        UniqueConstraint("artifact_id", "position"),
        CheckConstraint("artifact_id <> component_id", name="not_own_component"),
        CheckConstraint("position >= 0", name="position"),
    )

    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class TenantRow(Base):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("annual_revenue_usd >= 0", name="annual_revenue_usd"),
        CheckConstraint("monthly_active_users >= 0", name="monthly_active_users"),
        CheckConstraint("id <> 'operator'", name="not_operator"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    organisation_type: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(2))
    end_user_regions: Mapped[tuple[str, ...]] = mapped_column(StructJson(tuple[str, ...]))
    annual_revenue_usd: Mapped[float | None] = mapped_column(Double)
    monthly_active_users: Mapped[int | None] = mapped_column(Integer)
    image_generation_core_business: Mapped[bool | None] = mapped_column(Boolean)
    registrations: Mapped[tuple[str, ...]] = mapped_column(StructJson(tuple[str, ...]))
    default_purpose: Mapped[str | None] = mapped_column(String(32))
    retired: Mapped[bool] = mapped_column(Boolean)
    limits: Mapped[TenantLimits | None] = mapped_column(StructJson(TenantLimits), nullable=True, default=None)


class CatalogRevisionRow(Base):
    """A single row counting the catalog's changes: every load that changes an entry adds one
    in its transaction, so a server notices another's change by reading one number instead of
    the whole catalog (`gateway.catalog.cache`)."""

    __tablename__ = "catalog_revision"
    __table_args__ = (CheckConstraint("singleton = 1", name="singleton"),)

    singleton: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(BigInteger)


class OperatorRow(Base):
    """The single row describing the party running the gateway."""

    __tablename__ = "operator"
    __table_args__ = (CheckConstraint("singleton = 1", name="singleton"),)

    singleton: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(ID_LENGTH))
    name: Mapped[str] = mapped_column(String(300))
    charges_tenants: Mapped[bool] = mapped_column(Boolean)
    profile: Mapped[TenantProfile] = mapped_column(StructJson(TenantProfile))


class AgreementRow(Base):
    """A signed license held by a tenant (`tenant_id`) or by the operator (`tenant_id` NULL)."""

    __tablename__ = "agreements"
    __table_args__ = (
        CheckConstraint(
            "(holder = 'operator' AND tenant_id IS NULL) OR (holder = 'tenant' AND tenant_id IS NOT NULL)",
            name="holder",
        ),
        CheckConstraint("valid_until IS NULL OR valid_until >= valid_from", name="validity"),
        CheckConstraint("monthly_quota IS NULL OR monthly_quota >= 0", name="monthly_quota"),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    holder: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[str | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    licensor: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(String(300))
    covers: Mapped[AgreementCoverage] = mapped_column(StructJson(AgreementCoverage))
    purposes: Mapped[tuple[Purpose, ...]] = mapped_column(StructJson(tuple[Purpose, ...]))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    monthly_quota: Mapped[int | None] = mapped_column(Integer)
    obligations: Mapped[tuple[Obligation, ...]] = mapped_column(StructJson(tuple[Obligation, ...]))
    revoked_at: Mapped[dt.date | None] = mapped_column(Date)


class RunnerRow(Base):
    __tablename__ = "runners"
    __table_args__ = (
        ForeignKeyConstraint(
            ["service_terms_key", "service_terms_version"],
            ["license_documents.key", "license_documents.version"],
        ),
        CheckConstraint(_one_of("host", [h.value for h in HostKind]), name="host"),
        CheckConstraint("price_per_image_usd >= 0", name="price_per_image_usd"),
        CheckConstraint("price_per_megapixel_usd >= 0", name="price_per_megapixel_usd"),
        CheckConstraint("capacity >= 1", name="capacity"),
        CheckConstraint(
            "(service_terms_key IS NULL) = (service_terms_version IS NULL)", name="service_terms"
        ),
    )

    id: Mapped[str] = mapped_column(String(ID_LENGTH), primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    host: Mapped[str] = mapped_column(String(16))
    provider: Mapped[str | None] = mapped_column(String(200))
    service_terms_key: Mapped[str | None] = mapped_column(String(ID_LENGTH))
    service_terms_version: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(2))
    price_per_image_usd: Mapped[float | None] = mapped_column(Double)
    price_per_megapixel_usd: Mapped[float | None] = mapped_column(Double)
    capacity: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    endpoint: Mapped[str | None] = mapped_column(String(1000))
    config: Mapped[dict[str, str]] = mapped_column(StructJson(dict[str, str]))

    artifacts: Mapped[list[RunnerArtifactRow]] = relationship(
        order_by="RunnerArtifactRow.position", lazy="raise", viewonly=True
    )


class RunnerArtifactRow(Base):
    __tablename__ = "runner_artifacts"
    __table_args__ = (
        UniqueConstraint("runner_id", "position"),
        CheckConstraint("position >= 0", name="position"),
    )

    runner_id: Mapped[str] = mapped_column(ForeignKey("runners.id", ondelete="CASCADE"), primary_key=True)
    artifact_id: Mapped[str] = mapped_column(ForeignKey("artifacts.id"), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


CATALOG_TABLES: tuple[type[Any], ...] = (
    LicenseDocumentRow,
    ArtifactRow,
    ArtifactBaseRow,
    ArtifactComponentRow,
    TenantRow,
    OperatorRow,
    AgreementRow,
    RunnerRow,
    RunnerArtifactRow,
)
