"""catalog_revision: one row counting the catalog's changes, so a server's periodic refresh reads
one number and reads the whole catalog only when it changed (it read it every time before: about
4 s for 100,000 agreements, every CLEARANCE_STATE_SYNC_SECONDS).

Revision ID: 0014_catalog_revision
Revises: 0013_operator_controls
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_catalog_revision"
down_revision = "0013_operator_controls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "catalog_revision",
        sa.Column("singleton", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("singleton = 1", name=op.f("ck_catalog_revision_singleton")),
        sa.PrimaryKeyConstraint("singleton", name=op.f("pk_catalog_revision")),
    )
    op.bulk_insert(table, [{"singleton": 1, "revision": 0}])


def downgrade() -> None:
    op.drop_table("catalog_revision")
