"""Imports go into the database through the catalog store: one transaction, validated like any
entry, nothing written when refused (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import hf_cards
import msgspec
import pytest
from import_fixtures import import_catalog, safetensors_bytes, write_snapshot
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from registry.catalog.entries import Artifact
from registry.catalog.errors import CatalogError
from registry.catalog.store import load_catalog, read_catalog
from registry.db.engine import session_factory
from registry.importers import import_hf
from registry.importers.errors import HashMismatchError
from registry.importers.persist import current_catalog, persist_import


@pytest.fixture
async def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    factory = session_factory(engine)
    async with factory() as session, session.begin():
        await load_catalog(session, import_catalog())
    return factory


async def test_import_is_upserted_once(sessions: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    directory = write_snapshot(tmp_path, hf_cards.NOISY_APACHE_LORA, {"sks.safetensors": safetensors_bytes()})
    result = import_hf("someone/sks-dog-flux-lora", await current_catalog(sessions), local_dir=directory)
    report = await persist_import(sessions, result)
    assert report.summary() == "artifacts: 1 created"
    stored = {a.id: a for a in (await current_catalog(sessions)).artifacts}["someone/sks-dog-flux-lora"]
    assert stored == result.artifact
    assert stored.license == "flux-dev-ncl@1.1.1"
    assert stored.declared_license == "apache-2.0"
    assert stored.license_flags == ("declared_more_permissive_than_base",)
    again = await persist_import(sessions, result)
    assert again.summary() == "artifacts: 1 unchanged"


async def test_refused_import_writes_nothing(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    before = await current_catalog(sessions)
    directory = write_snapshot(
        tmp_path,
        hf_cards.FLUX2_TURBO,
        {"l.safetensors": safetensors_bytes()},
        recorded={"l.safetensors": "c" * 64},
    )
    with pytest.raises(HashMismatchError):
        import_hf("fal/FLUX.2-dev-Turbo", before, local_dir=directory)
    assert await current_catalog(sessions) == before


async def test_store_validates_against_the_database(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    """An import prepared against a catalog the database does not hold (a base since removed, or
    never loaded) is refused by the store, and nothing is written."""
    before = await current_catalog(sessions)
    ghost = msgspec.convert(
        {"id": "ghost/base", "kind": "base_model", "name": "Ghost", "license": "apache@2.0"}, Artifact
    )
    stale = msgspec.structs.replace(before, artifacts=(*before.artifacts, ghost))
    card = hf_cards.MISSING_LICENSE_LORA.replace("black-forest-labs/FLUX.1-schnell", "ghost/base")
    directory = write_snapshot(tmp_path, card, {"l.safetensors": safetensors_bytes()})
    result = import_hf("someone/on-a-ghost", stale, local_dir=directory)
    with pytest.raises(CatalogError, match="ghost/base"):
        await persist_import(sessions, result)
    async with sessions() as session, session.begin():
        assert await read_catalog(session) == before
