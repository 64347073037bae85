"""The catalog snapshot the API reads, built once per catalog revision and shared by requests.

Building a `CatalogSnapshot` reads the whole catalog and compiles every license, far too slow for
a request path, so it is built once and reused until the catalog changes:
- a write through this server's admin API hands the catalog it committed to `adopt()`, which
  builds the new snapshot before the write is answered (an admin reads what it just wrote), and
  the write itself starts from `known()` instead of reading every entry (`load_catalog`);
  `invalidate()` makes the next request wait for a whole read instead;
- writes made elsewhere (another server, the CLI) are noticed by a background refresh at most
  every `refresh_seconds`, which swaps the snapshot only when the catalog's digest changed;
  requests keep using the old snapshot meanwhile.
Everything derived from a snapshot per tenant and day (the model listings) is memoised on the
revision, so it is dropped with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from typing import Any

import anyio
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.catalog.entries import Catalog
from registry.catalog.store import KnownCatalog, catalog_revision, read_catalog
from registry.policy import CatalogSnapshot, PolicyEngine, catalog_digest

log = logging.getLogger(__name__)

_TENANT_MEMO_LIMIT = 4096
POLICY_CACHE_SIZE = 16_384
"""Decisions each revision's `PolicyEngine` remembers: a gateway asks once per candidate runner
and once overall, for every tenant, stack and purpose in use. About 670 bytes each (measured on
the policy benchmark's decisions), so 11 MB when full."""


class CatalogRevision:
    """One immutable state of the catalog: the entries, their policy snapshot, and memos."""

    __slots__ = ("_memo", "catalog", "number", "policy", "snapshot")

    def __init__(self, catalog: Catalog, snapshot: CatalogSnapshot, number: int) -> None:
        self.catalog = catalog
        self.snapshot = snapshot
        self.number = number
        self.policy = PolicyEngine(snapshot, cache_size=POLICY_CACHE_SIZE)
        """Evaluation with a memo of recent decisions (sound: `evaluate` is pure). Used from
        the event loop only, which is what its lack of locking needs."""
        self._memo: dict[tuple[str, str, dt.date], Any] = {}

    @property
    def digest(self) -> str:
        return self.snapshot.version

    def memoised(self, kind: str, tenant_id: str, date: dt.date, build: Callable[[], Any]) -> Any:
        """`build()` once per (kind, tenant, day) on this revision."""
        key = (kind, tenant_id, date)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= _TENANT_MEMO_LIMIT:
                self._memo.clear()
            found = self._memo[key] = build()
        return found


def build_revision(catalog: Catalog, number: int, digest: str | None = None) -> CatalogRevision:
    snapshot = CatalogSnapshot.build(catalog, version=digest or catalog_digest(catalog))
    return CatalogRevision(catalog, snapshot, number)


class CatalogCache:
    def __init__(
        self, sessions: Callable[[], async_sessionmaker[AsyncSession]], *, refresh_seconds: float
    ) -> None:
        self._sessions = sessions
        self._refresh_seconds = refresh_seconds
        self._current: CatalogRevision | None = None
        self._stale = True
        self._checked_at = 0.0
        self._lock = asyncio.Lock()
        self._refresh: asyncio.Task[None] | None = None
        self.builds = 0
        """How many snapshots were built (tests check that requests do not rebuild)."""
        self.reads = 0
        """How many times the whole catalog was read (a refresh that finds the same revision
        reads one number)."""
        self._revision_read: int | None = None

    def invalidate(self) -> None:
        """The catalog changed through this process: the next `current()` rebuilds."""
        self._stale = True

    def known(self) -> KnownCatalog | None:
        """The catalog held, at the revision read before it (a write committed in between left
        that revision older than the entries: the database's is then newer, and nothing takes
        the entries for what it holds)."""
        current, revision = self._current, self._revision_read
        if current is None or revision is None or self._stale:
            return None
        return KnownCatalog(revision, current.catalog)

    async def adopt(self, after: KnownCatalog | None) -> None:
        """A write of this process committed the catalog `after`: serve it from now on, without
        reading it back. None (a database without the revision row): `invalidate()`."""
        if after is None:
            self.invalidate()
            return
        async with self._lock:
            if self._revision_read is not None and self._revision_read >= after.revision and not self._stale:
                return  # a refresh already read this revision, or a later one
            try:
                digest = await anyio.to_thread.run_sync(catalog_digest, after.catalog)
                if self._current is None or self._current.digest != digest:
                    number = (self._current.number + 1) if self._current is not None else 1
                    self._current = await anyio.to_thread.run_sync(
                        build_revision, after.catalog, number, digest
                    )
                    self.builds += 1
            except Exception:  # the write committed: answer it, and read the catalog next time
                log.exception("the catalog committed could not be served; reading it again")
                self._stale = True
                return
            self._revision_read = after.revision
            self._stale = False
            self._checked_at = time.monotonic()

    async def current(self) -> CatalogRevision:
        current = self._current
        if current is not None and not self._stale:
            if time.monotonic() - self._checked_at > self._refresh_seconds and self._refresh is None:
                self._checked_at = time.monotonic()
                self._refresh = asyncio.create_task(self._refresh_in_background())
            return current
        async with self._lock:
            if self._current is None or self._stale:
                self._stale = False
                try:
                    await self._reload(force=True)
                except BaseException:
                    self._stale = True
                    raise
            assert self._current is not None
            return self._current

    async def _reload(self, *, force: bool = False) -> None:
        """Read the catalog, unless (not `force`) its revision is the one last read: then
        nothing changed anywhere (every write adds to it, `registry.catalog.store`)."""
        async with self._sessions()() as session:
            revision = await catalog_revision(session)  # before the entries: a write in between
            # leaves a revision older than what was read, so the next refresh reads again
            if not force and revision is not None and revision == self._revision_read and self._current:
                self._checked_at = time.monotonic()
                return
            catalog = await read_catalog(session)
        self.reads += 1
        self._revision_read = revision
        self._checked_at = time.monotonic()
        digest = await anyio.to_thread.run_sync(catalog_digest, catalog)
        if self._current is not None and self._current.digest == digest:
            return
        number = (self._current.number + 1) if self._current is not None else 1
        self._current = await anyio.to_thread.run_sync(build_revision, catalog, number, digest)
        self.builds += 1

    async def _refresh_in_background(self) -> None:
        try:
            async with self._lock:
                await self._reload()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("catalog refresh failed, serving the previous snapshot: %s", exc)
        finally:
            self._refresh = None

    async def close(self) -> None:
        task = self._refresh
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
