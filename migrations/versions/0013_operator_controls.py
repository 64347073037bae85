"""What the operator needs to run the gateway: jobs.cancel_reason (the operator's reason for
canceling a tenant's job, carried to the gateway process running it), ix_jobs_created (every
tenant's jobs listed newest first) and runners.paused (a runner held for maintenance, in every
gateway process).

Revision ID: 0013_operator_controls
Revises: 0012_client_secret_rotation
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013_operator_controls"
down_revision = "0012_client_secret_rotation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("cancel_reason", sa.String(length=300), nullable=True))
    op.create_index("ix_jobs_created", "jobs", ["created_at", "id"])
    with op.batch_alter_table("runners") as batch:
        batch.add_column(sa.Column("paused", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("runners") as batch:
        batch.drop_column("paused")
    op.drop_index("ix_jobs_created", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("cancel_reason")
