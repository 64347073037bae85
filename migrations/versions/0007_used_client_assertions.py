"""used_client_assertions: private_key_jwt client assertions already used, by client and jti.

Revision ID: 0007_used_client_assertions
Revises: 0006_job_restarts
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_used_client_assertions"
down_revision = "0006_job_restarts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "used_client_assertions",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "jti", name=op.f("pk_used_client_assertions")),
    )
    op.create_index(op.f("ix_used_client_assertions_expires_at"), "used_client_assertions", ["expires_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_used_client_assertions_expires_at"), table_name="used_client_assertions")
    op.drop_table("used_client_assertions")
