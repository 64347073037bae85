"""Admin writes to catalog entries, one entry at a time, through the same path as catalog files.

Each write goes through `load_catalog` (so through the same validation as files, and the same
refusal to edit the terms of a license version in use), then the audit event with the actor and
the before/after values is appended in the same transaction, then it commits: the change and its
audit record exist together or not at all. Nothing is ever deleted: entries are retired,
agreements revoked, runners disabled, because decisions in the audit log cite them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.actor import Actor
from gateway.api.errors import ResourceConflictError, ResourceNotFoundError, RetiringOwnTenantError
from registry.audit import append_in_session
from registry.catalog.entries import (
    OPERATOR,
    Agreement,
    Artifact,
    Catalog,
    LicenseDocument,
    Operator,
    Runner,
    Tenant,
)
from registry.catalog.errors import CatalogError, CatalogIssue, entry_id
from registry.catalog.store import (
    ChangeAction,
    KnownCatalog,
    catalog_revision,
    known_or_read,
    load_catalog,
)

Entry = TypeVar("Entry", LicenseDocument, Artifact, Tenant, Agreement, Runner, Operator)

NOUNS = {
    "licenses": "license",
    "artifacts": "artifact",
    "tenants": "tenant",
    "agreements": "agreement",
    "runners": "runner",
    "operator": "operator",
}


async def _nothing(after: KnownCatalog | None) -> None:
    return None


class CatalogAdmin:
    """One request's (or one CLI command's) admin writes. `known`: the catalog a server holds in
    memory (its cache's `known`), used instead of reading every entry whenever the database is
    still at its revision; `on_change` gets the catalog each write committed."""

    def __init__(
        self,
        session: AsyncSession,
        actor: Actor,
        on_change: Callable[[KnownCatalog | None], Awaitable[None]] = _nothing,
        known: Callable[[], KnownCatalog | None] = lambda: None,
    ):
        self.session = session
        self.actor = actor
        self.on_change = on_change
        self.known = known
        self._read: KnownCatalog | None = None
        """What this service last read whole or wrote (without a server's cache, the CLI's
        write starts from the catalog its check read, instead of reading it again)."""

    def _known(self) -> KnownCatalog | None:
        return self.known() or self._read

    async def catalog(self) -> Catalog:
        known = self._known()
        revision = await catalog_revision(self.session)  # before the entries, as the cache reads
        catalog = await known_or_read(self.session, known, revision)
        if revision is not None and (known is None or catalog is not known.catalog):
            self._read = KnownCatalog(revision, catalog)
        return catalog

    async def find(self, section: str, identity: str) -> Any:
        catalog = await self.catalog()
        if section == "operator":
            return catalog.operator or Operator()
        for entry in getattr(catalog, section):
            if entry_id(section, entry) == identity:
                return entry
        raise ResourceNotFoundError(NOUNS[section], identity)

    async def create(self, section: str, entry: Entry) -> Entry:
        identity = entry_id(section, entry)
        catalog = await self.catalog()
        if any(entry_id(section, other) == identity for other in getattr(catalog, section)):
            raise ResourceConflictError(
                f"{NOUNS[section]} {identity!r} exists already"
                + ("; licenses are versioned: create a new version" if section == "licenses" else "")
            )
        await self._write(section, entry, "create")
        return entry

    async def update(self, section: str, identity: str, entry: Entry) -> Entry:
        found = entry_id(section, entry)
        if found != identity:
            field = "key/version" if section == "licenses" else "id"
            raise CatalogError(
                [
                    CatalogIssue(
                        entry=f"{section} {found}",
                        field=field,
                        message=f"the body names {found!r} but the path {identity!r}; ids never change",
                    )
                ]
            )
        await self.find(section, identity)
        await self._write(section, entry, "update")
        return entry

    async def change(self, section: str, identity: str, verb: str, **values: Any) -> Any:
        """Retire, revoke, disable: the entry with `values` replaced."""
        current = await self.find(section, identity)
        updated = msgspec.structs.replace(current, **values)
        await self._write(section, updated, verb)
        return updated

    async def import_entry(self, section: str, entry: Entry) -> Entry:
        """Create or refresh an imported entry (re-importing a pinned repository is an update)."""
        await self._write(section, entry, "import")
        return entry

    async def put_operator(self, operator: Operator) -> Operator:
        if operator.id != OPERATOR:
            # The operator's agreements and runners name it by this id.
            raise CatalogError(
                [
                    CatalogIssue(
                        entry=f"operator {operator.id}",
                        field="id",
                        message=f"the operator's id is always {OPERATOR!r}; ids never change",
                    )
                ]
            )
        await self._write("operator", operator, "update")
        return operator

    def _check_not_retiring_own_tenant(self, section: str, entry: Any) -> None:
        if section == "tenants" and entry.retired and entry.id == self.actor.tenant_id:
            raise RetiringOwnTenantError(
                f"tenant {entry.id!r} is the tenant of your own client {self.actor.client_id!r}: "
                "retiring it would refuse your token at once and lock you out of the admin API; "
                "retire it with an admin client of another tenant"
            )

    async def _write(self, section: str, entry: Any, verb: str) -> None:
        self._check_not_retiring_own_tenant(section, entry)
        catalog = (
            Catalog(operator=entry)
            if section == "operator"
            else msgspec.structs.replace(Catalog(), **{section: (entry,)})
        )
        report = await load_catalog(self.session, catalog, known=self._known())
        change = report.changes[0]
        if change.action is ChangeAction.UNCHANGED:
            await self.session.rollback()
            return
        event = self.actor.change_event(
            f"{NOUNS[section]}.{verb}", change.id, change.before, change.after, _tenant_of(section, entry)
        )
        await append_in_session(self.session, [event])
        await self.session.commit()
        self._read = report.after
        await self.on_change(report.after)


def _tenant_of(section: str, entry: Any) -> str | None:
    """The tenant an entry belongs to, so that tenant finds the change in its own audit trail."""
    if section == "tenants":
        return str(entry.id)
    if section == "agreements" and entry.holder != OPERATOR:
        return str(entry.holder)
    return None


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
