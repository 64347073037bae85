"""`provide_*` dependencies of the catalog, policy and admin routes."""

from __future__ import annotations

import datetime as dt

from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.exc import SQLAlchemyError

from gateway.catalog.cache import CatalogCache, CatalogRevision
from gateway.health.errors import DatabaseUnavailableError
from gateway.runtime import GatewayRuntime

CATALOG_CACHE_STATE_KEY = "catalog_cache"


def provide_catalog_cache(state: State, runtime: NamedDependency[GatewayRuntime]) -> CatalogCache:
    """One cache per app, created on first use (so `create_app` stays free of it)."""
    cache = state.get(CATALOG_CACHE_STATE_KEY)
    if cache is None:
        cache = CatalogCache(lambda: runtime.sessions, refresh_seconds=runtime.settings.state_sync_seconds)
        state[CATALOG_CACHE_STATE_KEY] = cache
    assert isinstance(cache, CatalogCache)
    return cache


async def provide_catalog(catalog_cache: NamedDependency[CatalogCache]) -> CatalogRevision:
    """The current revision; 503 (not 500) when the first snapshot cannot be read."""
    try:
        return await catalog_cache.current()
    except (SQLAlchemyError, OSError, TimeoutError) as exc:
        raise DatabaseUnavailableError(f"the catalog cannot be read: {type(exc).__name__}") from exc


def provide_today() -> dt.date:
    """The policy engine never reads the clock: the API passes it today's date (UTC)."""
    return dt.datetime.now(dt.UTC).date()
