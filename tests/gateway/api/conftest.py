"""The API against a real database holding the built-in catalog plus two tenants with profiles,
an operator-hosted runner and one agreement each; tokens are fetched for real from /oauth/token."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from gateway.app import create_app
from gateway.settings import Settings
from registry.catalog.builtin import load_builtin_catalog
from registry.catalog.entries import Catalog
from registry.catalog.store import load_catalog
from registry.db import migrate
from registry.db.engine import create_engine, session_factory
from tests.gateway.auth.conftest import ISSUER, create_client, fetch_token, make_settings

ACME = "acme"
GLOBEX = "globex"
FLUX2_DEV = "black-forest-labs/FLUX.2-dev"
SCHNELL = "black-forest-labs/FLUX.1-schnell"
SDXL = "stabilityai/stable-diffusion-xl-base-1.0"
TURBO_LORA = "fal/FLUX.2-dev-Turbo"

_PROFILE = {
    "organisation_type": "company",
    "country": "US",
    "end_user_regions": ["US"],
    "annual_revenue_usd": 200000,
    "monthly_active_users": 5000,
    "image_generation_core_business": False,
}

SITE_CATALOG: dict[str, Any] = {
    "tenants": [
        {"id": ACME, "name": "Acme", "profile": _PROFILE},
        {"id": GLOBEX, "name": "Globex", "profile": _PROFILE},
    ],
    "operator": {"id": "operator", "name": "Clearance Ops", "profile": _PROFILE, "charges_tenants": False},
    "runners": [
        {
            "id": "op-gpu",
            "kind": "local_diffusers",
            "host": "operator",
            "artifacts": [FLUX2_DEV, TURBO_LORA, SCHNELL, SDXL],
            "region": "US",
            "price_per_image_usd": 0.002,
        }
    ],
    "agreements": [
        {
            "id": "operator-flux-hosting",
            "holder": "operator",
            "licensor": "Black Forest Labs, Inc.",
            "covers": {"license_families": ["flux-dev-ncl"]},
            "purposes": ["commercial_product", "commercial_internal", "hosted_service"],
            "valid_from": "2025-01-01",
        },
        {
            "id": "acme-flux-eval",
            "holder": ACME,
            "licensor": "Black Forest Labs, Inc.",
            "covers": {"license_families": ["flux-dev-ncl"]},
            "purposes": ["commercial_internal"],
            "valid_from": "2025-01-01",
        },
        {
            "id": "globex-flux-commercial",
            "holder": GLOBEX,
            "licensor": "Black Forest Labs, Inc.",
            "covers": {"license_families": ["flux-dev-ncl"]},
            "purposes": ["commercial_product", "commercial_internal", "hosted_service"],
            "valid_from": "2025-01-01",
        },
    ],
}


async def seed_catalog(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            await load_catalog(session, load_builtin_catalog())
            await load_catalog(session, msgspec.convert(SITE_CATALOG, Catalog))
            await session.commit()
    finally:
        await engine.dispose()


def seeded_database(database_url: str) -> str:
    migrate.upgrade(database_url)
    asyncio.run(seed_catalog(database_url))
    return database_url


@dataclass
class Api:
    """The app under the test client, with a token per (tenant, scopes) fetched on demand."""

    http: AsyncTestClient[Litestar]
    settings: Settings
    app: Litestar
    _tokens: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    async def headers(self, tenant: str = ACME, scopes: str = "models:read") -> dict[str, str]:
        key = (tenant, scopes)
        if key not in self._tokens:
            client = await create_client(self.settings, tenant=tenant, scopes=scopes)
            self._tokens[key] = {"Authorization": f"Bearer {await fetch_token(self.http, client)}"}
        return self._tokens[key]

    async def admin(self) -> dict[str, str]:
        return await self.headers(ACME, "admin")

    async def call(
        self, method: str, path: str, *, tenant: str = ACME, scopes: str = "models:read", **kwargs: Any
    ) -> Any:
        headers = await self.headers(tenant, scopes)
        return await self.http.request(method, path, headers=headers, **kwargs)


@pytest.fixture
def sqlite_api_db(sqlite_url: str) -> str:
    return seeded_database(sqlite_url)


@pytest.fixture
def api_settings(tmp_path: Path, sqlite_api_db: str) -> Settings:
    return make_settings(tmp_path, sqlite_api_db)


async def open_api(settings: Settings) -> AsyncIterator[Api]:
    app = create_app(settings)
    async with AsyncTestClient(app=app, base_url=ISSUER) as http:
        yield Api(http=http, settings=settings, app=app)


@pytest.fixture
async def api(api_settings: Settings) -> AsyncIterator[Api]:
    """The API on SQLite (the cross-cutting matrices run here)."""
    async for value in open_api(api_settings):
        yield value


@pytest.fixture
def any_api_db(database_url: str) -> str:
    return seeded_database(database_url)


@pytest.fixture
async def any_db_api(tmp_path: Path, any_api_db: str) -> AsyncIterator[Api]:
    """The API once on SQLite and once on PostgreSQL (the main flows)."""
    settings = make_settings(tmp_path, any_api_db)
    async for value in open_api(settings):
        yield value


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()
