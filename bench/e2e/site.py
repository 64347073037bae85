"""The benchmark's world: a migrated SQLite database with the built-in catalog, the tiny models,
an operator and a tenant licensed for FLUX.2 [dev] commercially (no monthly quota, so a long run
never runs out), a local runner for the tiny FLUX.2 model and an OpenAI-Images provider runner
for the built-in `bfl/flux-2-pro` service pointed at a loopback backend. Every process of the
benchmark reads the same `CLEARANCE_*` environment."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec

from bench.gateway.servers import free_port
from gateway.admin.actor import Actor
from gateway.admin.clients import ClientAdmin
from gateway.demo.models import ensure_tiny_models
from gateway.demo.setup import load_demo_catalog
from gateway.jobs.tiny_catalog import TINY_FLUX2, TINY_FLUX2_TURBO, tiny_artifacts
from gateway.oauth.client_secrets import ClientSecretHasher
from gateway.oauth.pepper import load_pepper
from gateway.settings import Settings
from registry.catalog.entries import Catalog
from registry.db import migrate
from registry.db.engine import create_engine, session_factory

TENANT = "bench"
LOCAL_RUNNER = "bench-local-flux2"
PROVIDER_RUNNER = "bench-provider"
PROVIDER_MODEL = "bfl/flux-2-pro"
PROVIDER_KEY = "bench-provider-key"


def _site(backend_url: str) -> dict[str, Any]:
    company = {"organisation_type": "company", "country": "US", "annual_revenue_usd": 300000}
    return {
        "operator": {
            "id": "operator",
            "name": "Bench operator",
            "profile": company,
            "charges_tenants": False,
        },
        "tenants": [
            {"id": TENANT, "name": "Bench", "profile": company, "default_purpose": "commercial_product"}
        ],
        "agreements": [
            {
                "id": "bench-operator-bfl",
                "holder": "operator",
                "licensor": "Black Forest Labs Inc.",
                "covers": {"license_families": ["flux-dev-ncl"]},
                "purposes": ["commercial_internal", "commercial_product", "hosted_service"],
                "valid_from": "2025-01-01",
            },
            {
                "id": "bench-bfl",
                "holder": TENANT,
                "licensor": "Black Forest Labs Inc.",
                "covers": {"license_families": ["flux-dev-ncl"]},
                "purposes": ["commercial_internal", "commercial_product"],
                "valid_from": "2025-01-01",
            },
        ],
        "runners": [
            {
                "id": LOCAL_RUNNER,
                "kind": "local_diffusers",
                "host": "operator",
                "artifacts": [TINY_FLUX2, TINY_FLUX2_TURBO],
                "capacity": 1,
                "config": {"device": "cpu"},
            },
            {
                "id": PROVIDER_RUNNER,
                "kind": "openai_images",
                "host": "provider",
                "provider": "loopback-images",
                "service_terms": "bfl-api-terms@1",
                "artifacts": [PROVIDER_MODEL],
                "endpoint": backend_url,
                "price_per_image_usd": 0.01,
                "capacity": 256,
            },
        ],
    }


def bootstrap(directory: Path, backend_url: str, database_url: str | None = None) -> dict[str, str]:
    """The environment of every benchmark process, with the bench client's id and secret.
    The database is SQLite in `directory` unless `database_url` names another (PostgreSQL)."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "CLEARANCE_DATA_DIR": str(directory),
        "CLEARANCE_ISSUER": f"http://127.0.0.1:{port}",
        "CLEARANCE_OUTBOUND_ALLOW_HTTP": "true",
        "CLEARANCE_PROVIDER_API_KEYS": f"{PROVIDER_RUNNER}={PROVIDER_KEY}",
        "CLEARANCE_JOB_QUEUE_DEPTH": "100000",
        "CLEARANCE_JOB_CONCURRENCY": "100000",
        "CLEARANCE_JOB_RATE_PER_MINUTE": "100000000",
        "BENCH_PORT": str(port),
    }
    env.pop("CLEARANCE_DATABASE_URL", None)
    if database_url is not None:
        env["CLEARANCE_DATABASE_URL"] = database_url
    settings = Settings.from_env(env)
    migrate.upgrade(settings.database_url)
    models, _ = ensure_tiny_models(directory / "models")
    site = msgspec.structs.replace(
        msgspec.convert(_site(backend_url), Catalog), artifacts=tiny_artifacts(models)
    )
    asyncio.run(load_demo_catalog(settings, site))
    client_id, secret = asyncio.run(_client(settings))
    env["BENCH_CLIENT_ID"], env["BENCH_CLIENT_SECRET"] = client_id, secret
    return env


async def _client(settings: Settings) -> tuple[str, str]:
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            admin = ClientAdmin(session, Actor(subject="bench"), ClientSecretHasher(load_pepper(settings)))
            made = await admin.create(
                tenant_id=TENANT, scopes="jobs:write jobs:read", name=f"bench {dt.date.today()}"
            )
    finally:
        await engine.dispose()
    assert made.client_secret is not None
    return made.client.client_id, made.client_secret


POSTGRES_ADMIN_DSN = os.environ.get(
    "CLEARANCE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


async def _postgres_admin(sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@contextlib.contextmanager
def postgres_database(*, required: bool = False) -> Iterator[str | None]:
    """A fresh PostgreSQL database for one run (dropped after), or None when unreachable
    (`required`: raise instead, so a run that asks for PostgreSQL never skips it silently)."""
    name = f"clearance_bench_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_postgres_admin(f'CREATE DATABASE "{name}"'))
    except (OSError, TimeoutError) as exc:
        if required:
            raise RuntimeError(f"PostgreSQL was asked for but is unreachable: {exc}") from exc
        print(f"PostgreSQL unreachable ({exc}); its run is skipped")
        yield None
        return
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(_postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
