"""docs/catalog.md stays true: its example validates, loads and round-trips."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.catalog.files import dump_catalog, parse_catalog
from registry.catalog.store import ChangeAction, export_catalog, load_catalog
from registry.catalog.validation import check_catalog

DOC = Path(__file__).resolve().parents[3] / "docs" / "catalog.md"


def _example() -> str:
    blocks = re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(), flags=re.DOTALL | re.MULTILINE)
    assert len(blocks) == 1, "docs/catalog.md should hold exactly one complete ```yaml example"
    return str(blocks[0])


def test_the_documented_example_is_a_valid_catalog() -> None:
    catalog = parse_catalog(_example(), file="docs/catalog.md")
    assert check_catalog(catalog) == []
    sections = ("licenses", "artifacts", "tenants", "agreements", "runners")
    assert all(getattr(catalog, section) for section in sections)
    assert catalog.operator is not None


async def test_the_documented_example_loads_and_round_trips(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    catalog = parse_catalog(_example(), file="docs/catalog.md")
    async with sessions() as session, session.begin():
        await load_catalog(session, catalog)
    async with sessions() as session:
        exported = await export_catalog(session)
    async with sessions() as session, session.begin():
        report = await load_catalog(session, parse_catalog(dump_catalog(exported), file="export.yaml"))
    assert {change.action for change in report.changes} == {ChangeAction.UNCHANGED}
