"""Every ORM module, imported so `metadata` holds all tables (Alembic autogenerate, tests)."""

from __future__ import annotations

from registry.audit import tables as audit_tables
from registry.db import catalog_tables
from registry.db.base import Base
from registry.delivery import tables as delivery_tables
from registry.identity import tables as identity_tables
from registry.jobs import tables as job_tables

# Each area registers its tables by importing its ORM module here.
metadata = Base.metadata

__all__ = ["audit_tables", "catalog_tables", "delivery_tables", "identity_tables", "job_tables", "metadata"]
