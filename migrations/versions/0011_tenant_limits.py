"""tenants.limits: a tenant's own job limits (concurrency, rate per minute, queue depth) where they
differ from the settings; NULL keeps the settings'.

Revision ID: 0011_tenant_limits
Revises: 0010_webhook_secret_rotation
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0011_tenant_limits"
down_revision = "0010_webhook_secret_rotation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column("limits", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("limits")
