"""catalog tables

Revision ID: 0001_catalog
Revises:
Create Date: 2026-11-26
"""

from __future__ import annotations

revision = "0001_catalog"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
