"""jobs tables: generation jobs and per-agreement monthly usage counters.

Revision ID: 0005_jobs
Revises: 0004_delivery
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005_jobs"
down_revision = "0004_delivery"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("adapters", _JSON, nullable=False),
        sa.Column("runner_id", sa.String(length=200), nullable=False),
        sa.Column("decision_id", sa.String(length=64), nullable=False),
        sa.Column("decision", _JSON, nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("output_use", sa.String(length=32), nullable=False),
        sa.Column("request", _JSON, nullable=False),
        sa.Column("task", _JSON, nullable=False),
        sa.Column("webhook", _JSON, nullable=True),
        sa.Column("reservations", _JSON, nullable=False),
        sa.Column("usage_month", sa.String(length=7), nullable=False),
        sa.Column("num_images", sa.Integer(), nullable=False),
        sa.Column("images", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'aborted')",
            name=op.f("ck_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_jobs")),
    )
    op.create_index("ix_jobs_tenant_created", "jobs", ["tenant_id", "created_at", "id"], unique=False)
    op.create_index("ix_jobs_active", "jobs", ["status", "heartbeat_at"], unique=False)
    op.create_table(
        "usage_counters",
        sa.Column("agreement_id", sa.String(length=200), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_usage_counters_used_non_negative")),
        sa.PrimaryKeyConstraint("agreement_id", "month", name=op.f("pk_usage_counters")),
    )


def downgrade() -> None:
    op.drop_table("usage_counters")
    op.drop_index("ix_jobs_active", table_name="jobs")
    op.drop_index("ix_jobs_tenant_created", table_name="jobs")
    op.drop_table("jobs")
