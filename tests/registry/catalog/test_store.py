"""Load, read and export the catalog on a migrated database, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import msgspec
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.catalog.entries import Artifact, Catalog, LicenseDocument, Runner
from registry.catalog.errors import CatalogError
from registry.catalog.files import SourcedCatalog, dump_catalog, parse_catalog
from registry.catalog.store import (
    ChangeAction,
    KnownCatalog,
    LoadReport,
    catalog_revision,
    export_catalog,
    load_catalog,
    read_catalog,
)
from registry.db.catalog_tables import ArtifactBaseRow, ArtifactRow, LicenseDocumentRow
from registry.policy import catalog_digest
from registry.terms import Grant, LicenseTerms
from registry.vocabulary import ArtifactKind, GrantStatus, Purpose


def _sorted(catalog: Catalog) -> Catalog:
    """The same catalog with every section in a canonical order."""
    return msgspec.structs.replace(
        catalog,
        licenses=tuple(sorted(catalog.licenses, key=lambda d: (d.key, d.version))),
        artifacts=tuple(sorted(catalog.artifacts, key=lambda a: a.id)),
        tenants=tuple(sorted(catalog.tenants, key=lambda t: t.id)),
        agreements=tuple(sorted(catalog.agreements, key=lambda a: a.id)),
        runners=tuple(sorted(catalog.runners, key=lambda r: r.id)),
    )


async def _load(sessions: async_sessionmaker[AsyncSession], catalog: Catalog | SourcedCatalog) -> LoadReport:
    async with sessions() as session, session.begin():
        return await load_catalog(session, catalog)


async def test_load_then_export_gives_back_the_catalog(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    report = await _load(sessions, fixture_catalog)
    assert {c.action for c in report.changes} == {ChangeAction.CREATED}
    async with sessions() as session:
        exported = await export_catalog(session)
    assert exported == _sorted(fixture_catalog.catalog)


async def test_loading_twice_or_loading_an_export_changes_nothing(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    await _load(sessions, fixture_catalog)
    again = await _load(sessions, fixture_catalog)
    assert {c.action for c in again.changes} == {ChangeAction.UNCHANGED}
    async with sessions() as session:
        exported = await export_catalog(session)
    reloaded = await _load(sessions, parse_catalog(dump_catalog(exported), file="export.yaml"))
    assert not reloaded.changed
    assert len(reloaded.changes) == len(again.changes)


async def test_an_update_is_reported_with_before_and_after(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    await _load(sessions, fixture_catalog)
    turbo = next(a for a in fixture_catalog.catalog.artifacts if a.id == "fal/FLUX.2-dev-Turbo")
    renamed = msgspec.structs.replace(turbo, name="Turbo LoRA", bases=("black-forest-labs/FLUX.2-dev",))
    report = await _load(sessions, Catalog(artifacts=(renamed,)))
    [change] = report.changes
    assert change.action is ChangeAction.UPDATED
    assert change.before is not None
    assert change.before["name"] == "FLUX.2 [dev] Turbo"
    assert change.after["name"] == "Turbo LoRA"
    msgspec.json.encode(change.before)  # plain data, ready for the audit log
    async with sessions() as session:
        catalog = await read_catalog(session)
    assert next(a for a in catalog.artifacts if a.id == renamed.id) == renamed
    assert len(catalog.artifacts) == 3  # entries absent from a load are kept


async def test_bases_can_be_reordered_and_replaced(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    await _load(sessions, fixture_catalog)
    extra = Artifact(id="other/base", kind=ArtifactKind.BASE_MODEL, name="Other", license="apache@2.0")
    turbo = next(a for a in fixture_catalog.catalog.artifacts if a.id == "fal/FLUX.2-dev-Turbo")
    two = msgspec.structs.replace(turbo, bases=("other/base", "black-forest-labs/FLUX.2-dev"))
    await _load(sessions, Catalog(artifacts=(extra, two)))
    swapped = msgspec.structs.replace(two, bases=("black-forest-labs/FLUX.2-dev", "other/base"))
    await _load(sessions, Catalog(artifacts=(swapped,)))
    async with sessions() as session:
        catalog = await read_catalog(session)
        links = await session.scalar(select(func.count()).select_from(ArtifactBaseRow))
    assert next(a for a in catalog.artifacts if a.id == turbo.id).bases == swapped.bases
    assert links == 2


async def test_terms_of_a_used_license_version_are_never_edited_in_place(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    await _load(sessions, fixture_catalog)
    ncl = next(d for d in fixture_catalog.catalog.licenses if d.key == "flux-dev-ncl")
    looser = msgspec.structs.replace(
        ncl,
        terms=msgspec.structs.replace(
            ncl.terms,
            grants=(Grant(purpose=Purpose.COMMERCIAL_PRODUCT, status=GrantStatus.ALLOWED, clause="2(b)"),),
        ),
    )
    with pytest.raises(CatalogError) as error:
        await _load(sessions, Catalog(licenses=(looser,)))
    [issue] = error.value.issues
    assert (issue.entry, issue.field) == ("licenses flux-dev-ncl@2.0", "terms")
    assert "create a new version" in issue.message
    # a new version is fine, and other fields of the used version may change
    await _load(sessions, Catalog(licenses=(msgspec.structs.replace(looser, version="2.1"),)))
    await _load(sessions, Catalog(licenses=(msgspec.structs.replace(ncl, title="FLUX [dev] NCL 2.0"),)))
    async with sessions() as session:
        stored = await session.get(LicenseDocumentRow, ("flux-dev-ncl", "2.0"))
    assert stored is not None
    assert stored.terms == ncl.terms


async def test_terms_of_an_unused_license_version_may_be_corrected(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    grants = (Grant(purpose=Purpose.PERSONAL, status=GrantStatus.ALLOWED, clause="1"),)
    first = LicenseDocument(
        key="draft", version="1", title="Draft", licensor="X", family="draft", terms=_terms(grants)
    )
    await _load(sessions, Catalog(licenses=(first,)))
    fixed = msgspec.structs.replace(first, terms=_terms(()))
    report = await _load(sessions, Catalog(licenses=(fixed,)))
    assert report.changes[0].action is ChangeAction.UPDATED


async def test_an_invalid_catalog_writes_nothing(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    bad_runner = Runner(
        id="nowhere",
        kind=fixture_catalog.catalog.runners[0].kind,
        host=fixture_catalog.catalog.runners[0].host,
        artifacts=("missing/model",),
    )
    broken = msgspec.structs.replace(
        fixture_catalog.catalog, runners=(*fixture_catalog.catalog.runners, bad_runner)
    )
    with pytest.raises(CatalogError, match="runners nowhere, field artifacts\\[0\\]: unknown artifact"):
        await _load(sessions, broken)
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ArtifactRow)) == 0


async def test_references_resolve_against_the_database(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    await _load(sessions, fixture_catalog)
    lora = Artifact(
        id="someone/lora",
        kind=ArtifactKind.ADAPTER,
        name="A LoRA",
        license="flux-dev-ncl@2.0",
        bases=("black-forest-labs/FLUX.2-dev",),
    )
    report = await _load(sessions, Catalog(artifacts=(lora,)))
    assert report.changes[0].action is ChangeAction.CREATED


def _terms(grants: tuple[Grant, ...]) -> LicenseTerms:
    return LicenseTerms(grants=grants)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_concurrent_loads_take_turns_on_postgresql(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    reports = await asyncio.gather(*(_load(sessions, fixture_catalog) for _ in range(3)))
    actions = sorted({c.action for c in report.changes}.pop() for report in reports)
    assert actions == [ChangeAction.CREATED, ChangeAction.UNCHANGED, ChangeAction.UNCHANGED]


async def test_a_long_lived_session_reads_what_others_committed(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    await _load(sessions, fixture_catalog)
    async with sessions() as reader:
        first = await read_catalog(reader)
        await reader.commit()
        runner = fixture_catalog.catalog.runners[0]
        await _load(sessions, Catalog(runners=(msgspec.structs.replace(runner, enabled=False),)))
        second = await read_catalog(reader)
    assert next(r for r in first.runners if r.id == runner.id).enabled
    assert not next(r for r in second.runners if r.id == runner.id).enabled


async def test_a_load_reports_the_catalog_it_committed_as_a_read_gives_it_back(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    """A server keeps the catalog a write committed (`LoadReport.after`) instead of reading it
    back, and starts its next write from it (`known`): each must be what the database holds."""
    report = await _load(sessions, fixture_catalog)
    source = fixture_catalog.catalog
    [tenant] = source.tenants
    [agreement, _] = source.agreements
    runner = source.runners[0]
    lora = source.artifacts[2]
    assert source.operator is not None
    writes = [
        Catalog(tenants=(msgspec.structs.replace(tenant, name="Acme Renamed", retired=True),)),
        Catalog(tenants=(msgspec.structs.replace(tenant, id="globex", name="Globex"),)),
        Catalog(agreements=(msgspec.structs.replace(agreement, monthly_quota=7, revoked_at=None),)),
        Catalog(agreements=(msgspec.structs.replace(agreement, id="acme-bfl-2027"),)),
        Catalog(runners=(msgspec.structs.replace(runner, artifacts=runner.artifacts[:1], paused=True),)),
        Catalog(artifacts=(msgspec.structs.replace(lora, id="fal/another-lora", name="Another"),)),
        Catalog(operator=msgspec.structs.replace(source.operator, charges_tenants=False)),
        Catalog(licenses=(msgspec.structs.replace(source.licenses[0], version="9.9", title="Next"),)),
        Catalog(tenants=(msgspec.structs.replace(tenant, id="globex", name="Globex"),)),  # unchanged
    ]
    for write in writes:
        assert report.after is not None
        async with sessions() as session, session.begin():
            report = await load_catalog(session, write, known=report.after)
        async with sessions() as session:
            held = await read_catalog(session)
            revision = await catalog_revision(session)
        assert report.after == (revision, _sorted(held)), write
        # equal, and encoded alike (a nested default rebuilt from columns encodes apart)
        assert catalog_digest(report.after.catalog) == catalog_digest(held), write


async def test_a_load_trusts_a_known_catalog_only_at_the_database_s_revision(
    sessions: async_sessionmaker[AsyncSession], fixture_catalog: SourcedCatalog
) -> None:
    report = await _load(sessions, fixture_catalog)
    assert report.after is not None
    [tenant] = report.after.catalog.tenants
    doctored = msgspec.structs.replace(
        report.after.catalog, tenants=(msgspec.structs.replace(tenant, name="Only In Memory"),)
    )
    write = Catalog(tenants=(msgspec.structs.replace(tenant, id="globex"),))
    async with sessions() as session, session.begin():  # a write elsewhere: the revision moved on
        stale = await load_catalog(session, write, known=KnownCatalog(report.after.revision - 1, doctored))
    assert stale.after is not None
    assert [t.name for t in stale.after.catalog.tenants] == [tenant.name, tenant.name]  # read whole
    write = Catalog(tenants=(msgspec.structs.replace(tenant, id="initech"),))
    async with sessions() as session, session.begin():
        trusted = await load_catalog(session, write, known=KnownCatalog(stale.after.revision, doctored))
    assert trusted.after is not None
    assert "Only In Memory" in [t.name for t in trusted.after.catalog.tenants]  # not read again
