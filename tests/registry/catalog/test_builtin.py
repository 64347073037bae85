"""The built-in catalog: valid on its own, and it loads, exports and reloads on both databases."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.catalog.builtin import builtin_catalog_paths, load_builtin_catalog
from registry.catalog.entries import Catalog
from registry.catalog.files import dump_catalog, parse_catalog
from registry.catalog.store import ChangeAction, export_catalog, load_catalog
from registry.catalog.validation import check_catalog


def test_builtin_files_ship_in_the_package() -> None:
    paths = builtin_catalog_paths()
    assert paths
    assert all(path.suffix == ".yaml" for path in paths)


def test_builtin_catalog_is_valid() -> None:
    catalog = load_builtin_catalog()
    assert check_catalog(catalog) == []
    assert {"black-forest-labs/FLUX.2-dev", "fal/FLUX.2-dev-Turbo"} <= {a.id for a in catalog.artifacts}


async def test_builtin_catalog_loads_exports_and_reloads(sessions: async_sessionmaker[AsyncSession]) -> None:
    builtin = load_builtin_catalog()
    async with sessions() as session, session.begin():
        first = await load_catalog(session, builtin)
    assert {c.action for c in first.changes} == {ChangeAction.CREATED}
    async with sessions() as session:
        exported = await export_catalog(session)
    assert _canonical(exported) == _canonical(builtin)

    reread = parse_catalog(dump_catalog(exported), file="export.yaml")
    async with sessions() as session, session.begin():
        second = await load_catalog(session, reread)
    assert {c.action for c in second.changes} == {ChangeAction.UNCHANGED}
    assert len(second.changes) == len(first.changes)


def _canonical(catalog: Catalog) -> bytes:
    return dump_catalog(
        Catalog(
            licenses=tuple(sorted(catalog.licenses, key=lambda d: d.ref)),
            artifacts=tuple(sorted(catalog.artifacts, key=lambda a: a.id)),
            tenants=tuple(sorted(catalog.tenants, key=lambda t: t.id)),
            agreements=tuple(sorted(catalog.agreements, key=lambda a: a.id)),
            runners=tuple(sorted(catalog.runners, key=lambda r: r.id)),
            operator=catalog.operator,
        )
    )
