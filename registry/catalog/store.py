"""The catalog in the database: load (idempotent upsert), read and export.

`load_catalog` writes inside the caller's transaction and never commits, so that whatever the
caller records about the load (the audit log) commits or rolls back with it. Everything is
validated before the first write: a `CatalogError` leaves the database untouched.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from enum import StrEnum
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

import msgspec
from sqlalchemy import Select, delete, func, inspect, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from registry.catalog import rows
from registry.catalog.entries import Artifact, Catalog, Runner
from registry.catalog.errors import entry_id
from registry.catalog.files import SourcedCatalog
from registry.catalog.validation import validate_catalog
from registry.db.base import Base
from registry.db.catalog_tables import (
    AgreementRow,
    ArtifactBaseRow,
    ArtifactComponentRow,
    ArtifactRow,
    CatalogRevisionRow,
    LicenseDocumentRow,
    OperatorRow,
    RunnerArtifactRow,
    RunnerRow,
    TenantRow,
)

T = TypeVar("T")


class ChangeAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


class EntryChange(msgspec.Struct, frozen=True, kw_only=True):
    """What loading did to one entry; `before`/`after` are plain JSON-able dicts of the entry."""

    section: str
    """`licenses`, `artifacts`, `tenants`, `agreements`, `runners` or `operator`."""
    id: str
    """The entry's id (`key@version` for licenses)."""
    action: ChangeAction
    before: dict[str, Any] | None
    after: dict[str, Any]


class KnownCatalog(NamedTuple):
    """The catalog as the database held it at `revision` (`catalog_revision`), kept in memory
    (a server's catalog cache): a load that finds the database still at that revision uses it
    instead of reading every entry again."""

    revision: int
    catalog: Catalog


class LoadReport(msgspec.Struct, frozen=True, kw_only=True):
    changes: tuple[EntryChange, ...]
    after: KnownCatalog | None = None
    """The whole catalog once the load commits, at its revision (None in a database without
    the revision row, made before migration 0014)."""

    def with_action(self, action: ChangeAction) -> tuple[EntryChange, ...]:
        return tuple(change for change in self.changes if change.action is action)

    @property
    def changed(self) -> bool:
        return any(change.action is not ChangeAction.UNCHANGED for change in self.changes)

    def summary(self) -> str:
        """E.g. `licenses: 2 created, 1 unchanged; artifacts: 3 created`."""
        counts: dict[str, dict[ChangeAction, int]] = defaultdict(lambda: defaultdict(int))
        for change in self.changes:
            counts[change.section][change.action] += 1
        parts = []
        for section, by_action in counts.items():
            figures = ", ".join(f"{by_action[a]} {a.value}" for a in ChangeAction if by_action[a])
            parts.append(f"{section}: {figures}")
        return "; ".join(parts) if parts else "nothing to load"


def plain_entry(entry: msgspec.Struct) -> dict[str, Any]:
    """An entry as JSON-shaped data (lists, strings, numbers), as written to the audit log."""
    data: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(entry))
    return data


async def read_catalog(session: AsyncSession) -> Catalog:
    """Everything the database holds, as one immutable `Catalog` (entries sorted by id).

    Rows already in the session are refreshed, so a long-lived session never serves stale entries.
    """
    return await _read(session, None)


async def _read(session: AsyncSession, only: dict[str, list[Any]] | None) -> Catalog:
    """`read_catalog`, or with `only` the entries of those ids per section (license ids as
    (key, version); the operator when `only` names it) as the database holds them."""

    def wanted(section: str) -> list[Any] | None:
        return None if only is None else only.get(section, [])

    async def entries(statement: Select[Any], section: str, column: Any) -> Sequence[Any]:
        ids = wanted(section)
        if ids is None:
            return await _all(session, statement)
        return await _all(session, statement.where(column.in_(ids))) if ids else []

    licenses = await entries(
        select(LicenseDocumentRow).order_by("key", "version"),
        "licenses",
        tuple_(LicenseDocumentRow.key, LicenseDocumentRow.version),
    )
    artifacts = await entries(select(ArtifactRow).order_by(ArtifactRow.id), "artifacts", ArtifactRow.id)
    bases = await _ordered_links(
        session, ArtifactBaseRow, lambda r: (r.artifact_id, r.base_id), wanted("artifacts")
    )
    components = await _ordered_links(
        session, ArtifactComponentRow, lambda r: (r.artifact_id, r.component_id), wanted("artifacts")
    )
    tenants = await entries(select(TenantRow).order_by(TenantRow.id), "tenants", TenantRow.id)
    operators = await _all(session, select(OperatorRow)) if only is None or "operator" in only else []
    operator = operators[0] if operators else None
    agreements = await entries(select(AgreementRow).order_by(AgreementRow.id), "agreements", AgreementRow.id)
    runners = await entries(select(RunnerRow).order_by(RunnerRow.id), "runners", RunnerRow.id)
    served = await _ordered_links(
        session, RunnerArtifactRow, lambda r: (r.runner_id, r.artifact_id), wanted("runners")
    )
    # sorted here too: a PostgreSQL collation may order ids otherwise (`merged` sorts as Python)
    return Catalog(
        licenses=_sorted("licenses", (rows.license_from_row(row) for row in licenses)),
        artifacts=_sorted(
            "artifacts",
            (
                rows.artifact_from_row(row, bases.get(row.id, ()), components.get(row.id, ()))
                for row in artifacts
            ),
        ),
        tenants=_sorted("tenants", (rows.tenant_from_row(row) for row in tenants)),
        agreements=_sorted("agreements", (rows.agreement_from_row(row) for row in agreements)),
        runners=_sorted("runners", (rows.runner_from_row(row, served.get(row.id, ())) for row in runners)),
        operator=rows.operator_from_row(operator) if operator is not None else None,
    )


def _sorted(section: str, entries: Iterable[T]) -> tuple[T, ...]:
    return tuple(sorted(entries, key=_SORT_KEYS[section]))


async def export_catalog(session: AsyncSession) -> Catalog:
    """The catalog as a file would hold it: loading it back changes nothing."""
    return await read_catalog(session)


async def load_catalog(
    session: AsyncSession, catalog: Catalog | SourcedCatalog, *, known: KnownCatalog | None = None
) -> LoadReport:
    """Upsert every entry of `catalog` in the caller's transaction (the caller commits).

    Entries already in the database and absent from `catalog` are kept. Raises `CatalogError`
    (before writing anything) when the catalog is invalid against what the database holds, or
    when it would change the terms of a license version that artifacts or runners already use.
    What the database holds is `known`'s catalog when the database is still at its revision,
    else read whole (seconds on a catalog of 100,000 agreements).
    """
    await _serialize_loads(session)
    revision = await catalog_revision(session)  # loads take turns: none can change it meanwhile
    existing = await known_or_read(session, known, revision)
    validate_catalog(catalog, existing=existing)
    new = catalog.catalog if isinstance(catalog, SourcedCatalog) else catalog

    changes: list[EntryChange] = []
    before = _index(existing)

    async def upsert(section: str, entry: Any, row_type: type[Base], values: dict[str, Any]) -> bool:
        identity = entry_id(section, entry)
        old = before[section].get(identity)
        after = plain_entry(entry)
        if old is None:
            session.add(row_type(**values))
            changes.append(
                EntryChange(
                    section=section, id=identity, action=ChangeAction.CREATED, before=None, after=after
                )
            )
            return True
        if old == entry:
            changes.append(
                EntryChange(
                    section=section, id=identity, action=ChangeAction.UNCHANGED, before=after, after=after
                )
            )
            return False
        row = await session.get(row_type, _primary_key(row_type, values))
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        changes.append(
            EntryChange(
                section=section,
                id=identity,
                action=ChangeAction.UPDATED,
                before=plain_entry(old),
                after=after,
            )
        )
        return True

    for document in new.licenses:
        await upsert("licenses", document, LicenseDocumentRow, rows.license_values(document))
    await session.flush()

    relinked: list[Artifact] = []
    for artifact in new.artifacts:
        old = before["artifacts"].get(artifact.id)
        await upsert("artifacts", artifact, ArtifactRow, rows.artifact_values(artifact))
        if old is None or (old.bases, old.components) != (artifact.bases, artifact.components):
            relinked.append(artifact)
    await session.flush()
    for artifact in relinked:
        await session.execute(delete(ArtifactBaseRow).where(ArtifactBaseRow.artifact_id == artifact.id))
        await session.execute(
            delete(ArtifactComponentRow).where(ArtifactComponentRow.artifact_id == artifact.id)
        )
    await session.flush()
    for artifact in relinked:
        session.add_all(
            ArtifactBaseRow(artifact_id=artifact.id, base_id=base, position=i)
            for i, base in enumerate(artifact.bases)
        )
        session.add_all(
            ArtifactComponentRow(artifact_id=artifact.id, component_id=part, position=i)
            for i, part in enumerate(artifact.components)
        )

    for tenant in new.tenants:
        await upsert("tenants", tenant, TenantRow, rows.tenant_values(tenant))
    if new.operator is not None:
        await upsert("operator", new.operator, OperatorRow, rows.operator_values(new.operator))
    await session.flush()
    for agreement in new.agreements:
        await upsert("agreements", agreement, AgreementRow, rows.agreement_values(agreement))

    rewired: list[Runner] = []
    for runner in new.runners:
        old = before["runners"].get(runner.id)
        await upsert("runners", runner, RunnerRow, rows.runner_values(runner))
        if old is None or old.artifacts != runner.artifacts:
            rewired.append(runner)
    await session.flush()
    for runner in rewired:
        await session.execute(delete(RunnerArtifactRow).where(RunnerArtifactRow.runner_id == runner.id))
    session.add_all(
        RunnerArtifactRow(runner_id=runner.id, artifact_id=artifact, position=i)
        for runner in rewired
        for i, artifact in enumerate(runner.artifacts)
    )
    await session.flush()
    changed = any(change.action is not ChangeAction.UNCHANGED for change in changes)
    if changed:
        await session.execute(
            update(CatalogRevisionRow)
            .where(CatalogRevisionRow.singleton == 1)
            .values(revision=CatalogRevisionRow.revision + 1)
        )
    after = None
    if revision is not None and changed:
        # the changed entries as a read gives them: a nested default that a row rebuilds is
        # equal to the one given but encodes differently, and `catalog_digest` would differ
        written: dict[str, list[Any]] = defaultdict(list)
        for change in changes:
            if change.action is not ChangeAction.UNCHANGED:
                written[change.section].append(_row_key(change.section, change.id))
        after = KnownCatalog(revision + 1, merged(existing, await _read(session, written)))
    elif revision is not None:
        after = KnownCatalog(revision, existing)
    return LoadReport(changes=tuple(changes), after=after)


def _row_key(section: str, identity: str) -> Any:
    if section == "licenses":
        key, _, version = identity.rpartition("@")
        return (key, version)
    return identity


async def known_or_read(session: AsyncSession, known: KnownCatalog | None, revision: int | None) -> Catalog:
    """`known`'s catalog when the database is at its `revision`, else the whole catalog read."""
    if known is not None and revision is not None and revision == known.revision:
        return known.catalog
    return await read_catalog(session)


_SORT_KEYS = {
    "licenses": attrgetter("key", "version"),
    "artifacts": attrgetter("id"),
    "tenants": attrgetter("id"),
    "agreements": attrgetter("id"),
    "runners": attrgetter("id"),
}


def merged(existing: Catalog, new: Catalog) -> Catalog:
    """What `read_catalog` reads once `new` is loaded over `existing`: each section's entries by
    id, those of `new` replacing the same ids, sorted by id."""
    sections: dict[str, tuple[Any, ...]] = {}
    for section, key in _SORT_KEYS.items():
        loaded = getattr(new, section)
        if not loaded:
            sections[section] = getattr(existing, section)
            continue
        entries = {entry_id(section, entry): entry for entry in getattr(existing, section)}
        entries.update((entry_id(section, entry), entry) for entry in loaded)
        sections[section] = tuple(sorted(entries.values(), key=key))
    return Catalog(**sections, operator=new.operator if new.operator is not None else existing.operator)


async def catalog_revision(session: AsyncSession) -> int | None:
    """The count of the catalog's changes (`CatalogRevisionRow`); None in a database without
    the row (made before migration 0014)."""
    revision: int | None = await session.scalar(
        select(CatalogRevisionRow.revision).where(CatalogRevisionRow.singleton == 1)
    )
    return revision


CATALOG_LOAD_LOCK = 0x636C_6361_7461_6C67
"""PostgreSQL advisory lock key ("clcatalg") taken by every load for its transaction."""


async def _serialize_loads(session: AsyncSession) -> None:
    """Concurrent loads would both see an entry missing and both insert it: on PostgreSQL they take
    turns (the second then reads what the first committed); SQLite has a single writer anyway."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(select(func.pg_advisory_xact_lock(CATALOG_LOAD_LOCK)))


def _index(catalog: Catalog) -> dict[str, dict[str, Any]]:
    index: dict[str, dict[str, Any]] = {
        section: {entry_id(section, entry): entry for entry in getattr(catalog, section)}
        for section in ("licenses", "artifacts", "tenants", "agreements", "runners")
    }
    index["operator"] = {"operator": catalog.operator} if catalog.operator is not None else {}
    return index


def _primary_key(row_type: type[Base], values: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(values[column.name] for column in inspect(row_type).primary_key)


async def _all(session: AsyncSession, statement: Select[T]) -> Sequence[T]:
    return (await session.scalars(statement.execution_options(populate_existing=True))).all()


async def _ordered_links(
    session: AsyncSession,
    row_type: type[Any],
    pair: Callable[[Any], tuple[str, str]],
    owners: list[str] | None = None,
) -> dict[str, list[str]]:
    """Association rows as owner id -> target ids in their declared order (of `owners` only,
    when given)."""
    owner_column = next(iter(row_type.__table__.primary_key.columns))
    links: dict[str, list[str]] = defaultdict(list)
    statement = select(row_type).order_by(owner_column, row_type.position)
    if owners is not None:
        if not owners:
            return links
        statement = statement.where(owner_column.in_(owners))
    for row in await _all(session, statement):
        owner, target = pair(row)
        links[owner].append(target)
    return links
