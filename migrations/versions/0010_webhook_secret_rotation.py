"""webhook_secrets.previous_secret / previous_until: a rotated-out secret keeps signing beside the
new one until then, so a receiver can switch without refusing a delivery.

Revision ID: 0010_webhook_secret_rotation
Revises: 0009_tenant_slot_leases
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_webhook_secret_rotation"
down_revision = "0009_tenant_slot_leases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("webhook_secrets") as batch:
        batch.add_column(sa.Column("previous_secret", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("previous_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_secrets") as batch:
        batch.drop_column("previous_until")
        batch.drop_column("previous_secret")
