"""`INSERT ... ON CONFLICT` in the dialect of the session's database: SQLite and PostgreSQL both
have it, under the same SQLAlchemy API, but each through its own `insert`."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_name(session: AsyncSession) -> str:
    """`sqlite` or `postgresql` (the database the session is bound to)."""
    return session.get_bind().dialect.name


def upsert_insert(session: AsyncSession, table: Any) -> postgresql.Insert | sqlite.Insert:
    """`insert(table)` of the session's dialect, which has `on_conflict_do_*` and `excluded`."""
    if dialect_name(session) == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
