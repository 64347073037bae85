"""Writing an import into the database: through the catalog store, like any catalog entry.

`load_catalog` validates the fragment against everything the database holds (licenses and bases
must exist, no cycles) before its first write, so a refused import changes nothing. It writes in
the caller's transaction; `persist_import` opens that transaction so one import is one commit.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.catalog.entries import Catalog
from registry.catalog.store import LoadReport, load_catalog, read_catalog
from registry.importers.result import ImportResult


async def current_catalog(sessions: async_sessionmaker[AsyncSession]) -> Catalog:
    """The catalog imports resolve against: what the database holds now."""
    async with sessions() as session, session.begin():
        return await read_catalog(session)


async def persist_import(sessions: async_sessionmaker[AsyncSession], result: ImportResult) -> LoadReport:
    """Upsert the imported entry in one transaction (validated again against the database as it is
    at commit time, so an import prepared from a stale read cannot slip past validation)."""
    async with sessions() as session, session.begin():
        return await load_catalog(session, result.fragment)
