"""oauth_clients.previous_secret_hash / previous_secret_until: a client secret rotated out keeps
authenticating beside the new one until then, so the client's deployments can switch without a
refused token request.

Revision ID: 0012_client_secret_rotation
Revises: 0011_tenant_limits
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_client_secret_rotation"
down_revision = "0011_tenant_limits"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.add_column(sa.Column("previous_secret_hash", sa.String(length=128), nullable=True))
        batch.add_column(sa.Column("previous_secret_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("oauth_clients") as batch:
        batch.drop_column("previous_secret_until")
        batch.drop_column("previous_secret_hash")
