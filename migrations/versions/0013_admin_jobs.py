"""jobs.cancel_reason: the operator's reason for canceling a tenant's job, carried to the
gateway process running it; ix_jobs_created: the operator's listing of every tenant's jobs,
newest first.

Revision ID: 0013_admin_jobs
Revises: 0012_client_secret_rotation
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_admin_jobs"
down_revision = "0012_client_secret_rotation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.String(length=300), nullable=True))
    op.create_index("ix_jobs_created", "jobs", ["created_at", "id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_created", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cancel_reason")
