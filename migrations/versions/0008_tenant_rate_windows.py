"""tenant_rate_windows: job submissions granted per tenant and minute, across gateway processes.

Revision ID: 0008_tenant_rate_windows
Revises: 0007_used_client_assertions
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_tenant_rate_windows"
down_revision = "0007_used_client_assertions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_rate_windows",
        sa.Column("tenant_id", sa.String(length=200), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.CheckConstraint("used >= 0", name=op.f("ck_tenant_rate_windows_used_non_negative")),
        sa.PrimaryKeyConstraint("tenant_id", "minute", name=op.f("pk_tenant_rate_windows")),
    )


def downgrade() -> None:
    op.drop_table("tenant_rate_windows")
