"""catalog tables: licenses, artifacts (with bases and components), tenants, the operator,
agreements, runners (with the artifacts they serve).

Revision ID: 0001_catalog
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001_catalog"
down_revision = None
branch_labels = None
depends_on = None

# Validated JSON documents (registry.db.struct_json.StructJson): JSON on SQLite, JSONB on PostgreSQL.
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "license_documents",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("licensor", sa.String(length=200), nullable=False),
        sa.Column("family", sa.String(length=200), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("text_sha256", sa.String(length=64), nullable=True),
        sa.Column("spdx_id", sa.String(length=200), nullable=True),
        sa.Column("hf_aliases", JSON_DOCUMENT, nullable=False),
        sa.Column("verification", sa.String(length=32), nullable=False),
        sa.Column("verification_note", sa.String(length=2000), nullable=True),
        sa.Column("service_terms", sa.Boolean(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("terms", JSON_DOCUMENT, nullable=False),
        sa.CheckConstraint(
            "verification IN ('verified', 'secondary', 'unconfirmed')",
            name=op.f("ck_license_documents_verification"),
        ),
        sa.PrimaryKeyConstraint("key", "version", name=op.f("pk_license_documents")),
    )
    op.create_index(op.f("ix_license_documents_family"), "license_documents", ["family"], unique=False)
    op.create_table(
        "operator",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("charges_tenants", sa.Boolean(), nullable=False),
        sa.Column("profile", JSON_DOCUMENT, nullable=False),
        sa.CheckConstraint("singleton = 1", name=op.f("ck_operator_singleton")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_operator")),
    )
    op.create_table(
        "tenants",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("organisation_type", sa.String(length=32), nullable=True),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("end_user_regions", JSON_DOCUMENT, nullable=False),
        sa.Column("annual_revenue_usd", sa.Double(), nullable=True),
        sa.Column("monthly_active_users", sa.Integer(), nullable=True),
        sa.Column("image_generation_core_business", sa.Boolean(), nullable=True),
        sa.Column("registrations", JSON_DOCUMENT, nullable=False),
        sa.Column("default_purpose", sa.String(length=32), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.CheckConstraint("id <> 'operator'", name=op.f("ck_tenants_not_operator")),
        sa.CheckConstraint("annual_revenue_usd >= 0", name=op.f("ck_tenants_annual_revenue_usd")),
        sa.CheckConstraint("monthly_active_users >= 0", name=op.f("ck_tenants_monthly_active_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "agreements",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("holder", sa.String(length=16), nullable=False),
        sa.Column("tenant_id", sa.String(length=200), nullable=True),
        sa.Column("licensor", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=True),
        sa.Column("covers", JSON_DOCUMENT, nullable=False),
        sa.Column("purposes", JSON_DOCUMENT, nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column("monthly_quota", sa.Integer(), nullable=True),
        sa.Column("obligations", JSON_DOCUMENT, nullable=False),
        sa.Column("revoked_at", sa.Date(), nullable=True),
        sa.CheckConstraint(
            "(holder = 'operator' AND tenant_id IS NULL) OR (holder = 'tenant' AND tenant_id IS NOT NULL)",
            name=op.f("ck_agreements_holder"),
        ),
        sa.CheckConstraint(
            "monthly_quota IS NULL OR monthly_quota >= 0", name=op.f("ck_agreements_monthly_quota")
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR valid_until >= valid_from", name=op.f("ck_agreements_validity")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], name=op.f("fk_agreements_tenant_id_tenants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agreements")),
    )
    op.create_index(op.f("ix_agreements_tenant_id"), "agreements", ["tenant_id"], unique=False)
    op.create_table(
        "artifacts",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("license_key", sa.String(length=200), nullable=False),
        sa.Column("license_version", sa.String(length=64), nullable=False),
        sa.Column("family", sa.String(length=64), nullable=True),
        sa.Column("source", JSON_DOCUMENT, nullable=True),
        sa.Column("base_relation", sa.String(length=32), nullable=True),
        sa.Column("declared_license", sa.String(length=300), nullable=True),
        sa.Column("license_flags", JSON_DOCUMENT, nullable=False),
        sa.Column("creator_permissions", JSON_DOCUMENT, nullable=True),
        sa.Column("recommended", JSON_DOCUMENT, nullable=True),
        sa.Column("always_on", sa.Boolean(), nullable=False),
        sa.Column("gated", sa.String(length=1000), nullable=True),
        sa.Column("description", sa.String(length=4000), nullable=True),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "base_relation IS NULL OR base_relation IN ('adapter', 'finetune', 'merge', 'quantized')",
            name=op.f("ck_artifacts_base_relation"),
        ),
        sa.CheckConstraint(
            "kind IN ('base_model', 'adapter', 'component', 'provider_service')",
            name=op.f("ck_artifacts_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["license_key", "license_version"],
            ["license_documents.key", "license_documents.version"],
            name=op.f("fk_artifacts_license_key_license_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_artifacts")),
    )
    op.create_table(
        "runners",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("host", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=200), nullable=True),
        sa.Column("service_terms_key", sa.String(length=200), nullable=True),
        sa.Column("service_terms_version", sa.String(length=64), nullable=True),
        sa.Column("region", sa.String(length=2), nullable=True),
        sa.Column("price_per_image_usd", sa.Double(), nullable=True),
        sa.Column("price_per_megapixel_usd", sa.Double(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("endpoint", sa.String(length=1000), nullable=True),
        sa.Column("config", JSON_DOCUMENT, nullable=False),
        sa.CheckConstraint("host IN ('operator', 'provider')", name=op.f("ck_runners_host")),
        sa.CheckConstraint(
            "(service_terms_key IS NULL) = (service_terms_version IS NULL)",
            name=op.f("ck_runners_service_terms"),
        ),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_runners_capacity")),
        sa.CheckConstraint("price_per_image_usd >= 0", name=op.f("ck_runners_price_per_image_usd")),
        sa.CheckConstraint("price_per_megapixel_usd >= 0", name=op.f("ck_runners_price_per_megapixel_usd")),
        sa.ForeignKeyConstraint(
            ["service_terms_key", "service_terms_version"],
            ["license_documents.key", "license_documents.version"],
            name=op.f("fk_runners_service_terms_key_license_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runners")),
    )
    op.create_table(
        "artifact_bases",
        sa.Column("artifact_id", sa.String(length=200), nullable=False),
        sa.Column("base_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("artifact_id <> base_id", name=op.f("ck_artifact_bases_not_own_base")),
        sa.CheckConstraint("position >= 0", name=op.f("ck_artifact_bases_position")),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_artifact_bases_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["base_id"], ["artifacts.id"], name=op.f("fk_artifact_bases_base_id_artifacts")
        ),
        sa.PrimaryKeyConstraint("artifact_id", "base_id", name=op.f("pk_artifact_bases")),
        sa.UniqueConstraint("artifact_id", "position", name=op.f("uq_artifact_bases_artifact_id_position")),
    )
    op.create_index(op.f("ix_artifact_bases_base_id"), "artifact_bases", ["base_id"], unique=False)
    op.create_table(
        "artifact_components",
        sa.Column("artifact_id", sa.String(length=200), nullable=False),
        sa.Column("component_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "artifact_id <> component_id", name=op.f("ck_artifact_components_not_own_component")
        ),
        sa.CheckConstraint("position >= 0", name=op.f("ck_artifact_components_position")),
        sa.ForeignKeyConstraint(
            ["artifact_id"],
            ["artifacts.id"],
            name=op.f("fk_artifact_components_artifact_id_artifacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["component_id"], ["artifacts.id"], name=op.f("fk_artifact_components_component_id_artifacts")
        ),
        sa.PrimaryKeyConstraint("artifact_id", "component_id", name=op.f("pk_artifact_components")),
        sa.UniqueConstraint(
            "artifact_id", "position", name=op.f("uq_artifact_components_artifact_id_position")
        ),
    )
    op.create_index(
        op.f("ix_artifact_components_component_id"), "artifact_components", ["component_id"], unique=False
    )
    op.create_table(
        "runner_artifacts",
        sa.Column("runner_id", sa.String(length=200), nullable=False),
        sa.Column("artifact_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.CheckConstraint("position >= 0", name=op.f("ck_runner_artifacts_position")),
        sa.ForeignKeyConstraint(
            ["artifact_id"], ["artifacts.id"], name=op.f("fk_runner_artifacts_artifact_id_artifacts")
        ),
        sa.ForeignKeyConstraint(
            ["runner_id"],
            ["runners.id"],
            name=op.f("fk_runner_artifacts_runner_id_runners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("runner_id", "artifact_id", name=op.f("pk_runner_artifacts")),
        sa.UniqueConstraint("runner_id", "position", name=op.f("uq_runner_artifacts_runner_id_position")),
    )
    op.create_index(
        op.f("ix_runner_artifacts_artifact_id"), "runner_artifacts", ["artifact_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_runner_artifacts_artifact_id"), table_name="runner_artifacts")
    op.drop_table("runner_artifacts")
    op.drop_index(op.f("ix_artifact_components_component_id"), table_name="artifact_components")
    op.drop_table("artifact_components")
    op.drop_index(op.f("ix_artifact_bases_base_id"), table_name="artifact_bases")
    op.drop_table("artifact_bases")
    op.drop_table("runners")
    op.drop_table("artifacts")
    op.drop_index(op.f("ix_agreements_tenant_id"), table_name="agreements")
    op.drop_table("agreements")
    op.drop_table("tenants")
    op.drop_table("operator")
    op.drop_index(op.f("ix_license_documents_family"), table_name="license_documents")
    op.drop_table("license_documents")
