"""Fixture catalogs and sessions on a migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.catalog.files import SourcedCatalog, read_catalog_files
from registry.db.engine import session_factory

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE_FILES = [FIXTURES / "licenses.yaml", FIXTURES / "models.yaml"]


@pytest.fixture
def fixture_catalog() -> SourcedCatalog:
    return read_catalog_files(FIXTURE_FILES)


@pytest.fixture
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return session_factory(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session
