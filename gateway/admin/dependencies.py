"""`provide_*` dependencies of the admin routes."""

from __future__ import annotations

from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.admin.actor import Actor
from gateway.admin.catalog_service import CatalogAdmin
from gateway.admin.clients import ClientAdmin
from gateway.auth.context import AuthContext
from gateway.catalog.cache import CatalogCache
from gateway.runtime import GatewayRuntime
from registry.catalog.store import KnownCatalog


def provide_catalog_admin(
    db_session: NamedDependency[AsyncSession],
    auth: NamedDependency[AuthContext],
    catalog_cache: NamedDependency[CatalogCache],
    runtime: NamedDependency[GatewayRuntime],
) -> CatalogAdmin:
    async def on_change(after: KnownCatalog | None) -> None:
        runtime.tenant_status.forget()  # a tenant created or retired here counts from now
        await catalog_cache.adopt(after)

    return CatalogAdmin(db_session, Actor.of(auth), on_change=on_change, known=catalog_cache.known)


def provide_client_admin(
    db_session: NamedDependency[AsyncSession],
    auth: NamedDependency[AuthContext],
    runtime: NamedDependency[GatewayRuntime],
) -> ClientAdmin:
    return ClientAdmin(
        db_session, Actor.of(auth), runtime.secret_hasher, on_disable=runtime.disabled_clients.add
    )
