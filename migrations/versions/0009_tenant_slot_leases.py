"""tenant_slot_leases: running-job slots per tenant held by each gateway process.

Revision ID: 0009_tenant_slot_leases
Revises: 0008_tenant_rate_windows
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_tenant_slot_leases"
down_revision = "0008_tenant_rate_windows"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_slot_leases",
        sa.Column("tenant_id", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("held >= 0", name=op.f("ck_tenant_slot_leases_held_non_negative")),
        sa.PrimaryKeyConstraint("tenant_id", "owner", name=op.f("pk_tenant_slot_leases")),
    )


def downgrade() -> None:
    op.drop_table("tenant_slot_leases")
