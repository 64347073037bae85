"""Fixtures for the gateway's HTTP surface: a migrated database with a tenant, the app under
Litestar's test client, and helpers that register clients and fetch tokens for real."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.oauth.client_registry import RegisteredClient, register_client
from gateway.oauth.client_secrets import ClientSecretHasher
from gateway.oauth.pepper import load_pepper
from gateway.settings import Settings
from registry.catalog.entries import Tenant
from registry.catalog.rows import tenant_values
from registry.db import migrate
from registry.db.catalog_tables import TenantRow
from registry.db.engine import create_engine, session_factory

PEPPER = "test-pepper-0123456789abcdef0123456789abcdef"
ISSUER = "http://localhost:8000"
TENANT = "acme"
OTHER_TENANT = "globex"

RegisterClient = Callable[..., Awaitable[RegisteredClient]]


def make_settings(data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "data_dir": data_dir,
        "database_url": database_url,
        "issuer": ISSUER,
        "secret_pepper": PEPPER,
        **overrides,
    }
    return Settings.from_env({}, **values)


async def add_tenants(database_url: str, *tenant_ids: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            for tenant_id in tenant_ids:
                session.add(TenantRow(**tenant_values(Tenant(id=tenant_id, name=tenant_id.title()))))
            await session.commit()
    finally:
        await engine.dispose()


async def create_client(
    settings: Settings, *, tenant: str = TENANT, scopes: str = "models:read", **kwargs: Any
) -> RegisteredClient:
    """Register a client exactly as `clearance clients create` does."""
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await register_client(
                session,
                ClientSecretHasher(load_pepper(settings)),
                tenant_id=tenant,
                scopes=scopes,
                now=dt.datetime.now(dt.UTC),
                **kwargs,
            )
    finally:
        await engine.dispose()


async def fetch_token(http: Any, client: RegisteredClient, scope: str | None = None) -> str:
    """POST /oauth/token with client_secret_basic; the access token."""
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    assert client.client_secret is not None
    response = await http.post("/oauth/token", data=form, auth=(client.client_id, client.client_secret))
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def gateway_db(tmp_path: Path) -> str:
    """A migrated SQLite database holding the tenants `acme` and `globex`."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"
    migrate.upgrade(url)
    asyncio.run(add_tenants(url, TENANT, OTHER_TENANT))
    return url


@pytest.fixture
def settings(tmp_path: Path, gateway_db: str) -> Settings:
    return make_settings(tmp_path, gateway_db)


@pytest.fixture
def app(settings: Settings) -> Litestar:
    return create_app(settings)


@pytest.fixture
async def http(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app, base_url=ISSUER) as client:
        yield client


@pytest.fixture
def register(settings: Settings) -> RegisterClient:
    async def _register(**kwargs: Any) -> RegisteredClient:
        return await create_client(settings, **kwargs)

    return _register
