"""The jobs API end to end: real tiny pipelines (built once per session), a fake OpenAI-Images
provider on loopback, a catalog of real licenses with local and provider runners, and a fresh
copy of a migrated, seeded SQLite database per test. Tokens are fetched for real."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import pytest
import torch
from click.testing import CliRunner, Result
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import Table, insert

from gateway.app import create_app
from gateway.cli import main
from gateway.jobs.pool import RunnerPool
from gateway.jobs.runtime import JobsRuntime, runner_factory
from gateway.jobs.tiny_catalog import (
    BFL_USAGE_URL,
    FLUX_DEV_NCL,
    HOBBY,
    LOCAL_FLUX2,
    LOCAL_SD,
    PROVIDER_FLUX2,
    STUDIO,
    STUDIO_AGREEMENT,
    TINY_FLUX2,
    TINY_FLUX2_TURBO,
    TINY_SD,
    tiny_site_catalog,
)
from gateway.settings import Settings
from registry.catalog.builtin import load_builtin_catalog
from registry.catalog.entries import Catalog
from registry.catalog.store import load_catalog
from registry.db import migrate
from registry.db.engine import create_engine, session_factory
from registry.jobs.tables import JobRow
from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.task import ModelFamily
from runners.tiny import TinyModelSet, build_tiny_models
from tests.gateway.auth.conftest import ISSUER, create_client, fetch_token, make_settings
from tests.gateway.jobs.fake_provider import FakeImagesProvider

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(2)

PROVIDER_KEY = "test-provider-key"
JOBS = cast(Table, JobRow.__table__)


@dataclass
class JobsWorld:
    models: TinyModelSet
    provider: FakeImagesProvider
    template_db: Path
    catalog: Catalog
    local_runners: dict[str, LocalDiffusersRunner]


async def _seed(url: str, catalog: Catalog) -> None:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            await load_catalog(session, load_builtin_catalog())
            await load_catalog(session, catalog)
            await session.commit()
    finally:
        await engine.dispose()


def build_catalog(models: TinyModelSet, provider_url: str) -> Catalog:
    return tiny_site_catalog(models, provider_url=provider_url)


def seed_database(url: str, catalog: Catalog) -> None:
    migrate.upgrade(url)
    asyncio.run(_seed(url, catalog))


@pytest.fixture(scope="session")
def jobs_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobsWorld]:
    root = tmp_path_factory.mktemp("jobs-world")
    models = build_tiny_models(
        root / "models", families=(ModelFamily.FLUX2, ModelFamily.SD1), adapters_per_family=1
    )
    provider = FakeImagesProvider().start()
    catalog = build_catalog(models, provider.base_url)
    template = root / "template.db"
    seed_database(f"sqlite+aiosqlite:///{template}", catalog)
    runners = {
        runner_id: LocalDiffusersRunner(
            LocalRunnerSettings(runner_id=runner_id, device="cpu", max_wait_s=0.0)
        )
        for runner_id in (LOCAL_FLUX2, LOCAL_SD)
    }
    yield JobsWorld(models, provider, template, catalog, runners)
    for runner in runners.values():
        asyncio.run(runner.close())
    provider.stop()


def copy_database(world: JobsWorld, directory: Path) -> str:
    target = directory / "jobs.db"
    shutil.copyfile(world.template_db, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture(params=["sqlite", "postgresql"])
def jobs_database(request: pytest.FixtureRequest, jobs_world: JobsWorld, tmp_path: Path) -> str:
    """The jobs world's database, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return copy_database(jobs_world, tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    seed_database(url, jobs_world.catalog)
    return url


def jobs_settings(world: JobsWorld, data_dir: Path, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "outbound_allow_http": True,
        "provider_api_keys": f"{PROVIDER_FLUX2}={PROVIDER_KEY}",
        "job_lease_seconds": 2.0,
        "delivery_retry_schedule": "1,1,1",
        **overrides,
    }
    return make_settings(data_dir, database_url, **values)


def shared_pool(world: JobsWorld, settings: Settings) -> RunnerPool:
    """The session's local runners (pipelines stay warm across tests) plus per-app provider runners."""
    pool = RunnerPool(runner_factory(settings))
    entries = {r.id: r for r in world.catalog.runners}
    for runner_id, runner in world.local_runners.items():
        pool.register(entries[runner_id], runner)
    return pool


@dataclass
class Gateway:
    http: AsyncTestClient[Litestar]
    settings: Settings
    app: Litestar
    pool: RunnerPool
    _tokens: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    @property
    def jobs(self) -> JobsRuntime:
        runtime: JobsRuntime = self.app.state["jobs_runtime"]
        return runtime

    async def headers(self, tenant: str = STUDIO, scopes: str = "jobs:write jobs:read") -> dict[str, str]:
        key = (tenant, scopes)
        if key not in self._tokens:
            client = await create_client(self.settings, tenant=tenant, scopes=scopes)
            self._tokens[key] = {"Authorization": f"Bearer {await fetch_token(self.http, client)}"}
        return dict(self._tokens[key])

    async def submit(self, body: dict[str, Any], *, tenant: str = STUDIO, **headers: str) -> Any:
        merged = {**await self.headers(tenant), **headers}
        return await self.http.post("/v1/jobs", json=body, headers=merged)

    async def get(self, path: str, *, tenant: str = STUDIO) -> Any:
        return await self.http.get(path, headers=await self.headers(tenant))

    async def admin(self) -> dict[str, str]:
        """An operator's headers (scope `admin`)."""
        return await self.headers(STUDIO, "admin")

    async def admin_changes(self, target: str) -> list[dict[str, Any]]:
        """The `admin.change` audit events about `target`, oldest first."""
        answer = await self.http.get(
            "/admin/audit", params={"kind": "admin.change", "limit": 1000}, headers=await self.admin()
        )
        assert answer.status_code == 200, answer.text
        return [e for e in answer.json()["events"] if e["payload"]["target"] == target]

    async def cli(self, data_dir: Path, *args: str) -> Result:
        """`clearance ARGS...` on this gateway's database, from another thread (the command runs
        its own event loop)."""
        argv = ["--database-url", self.settings.database_url, "--data-dir", str(data_dir), *args]
        return await asyncio.to_thread(CliRunner().invoke, main, argv, catch_exceptions=False)

    async def wait_for(self, job_id: str, *statuses: str, tenant: str = STUDIO) -> dict[str, Any]:
        """Poll the job until it reaches one of `statuses` (the test fails on its own timeout)."""
        wanted = statuses or ("succeeded", "failed", "canceled", "aborted")
        for _ in range(600):
            job: dict[str, Any] = (await self.get(f"/v1/jobs/{job_id}", tenant=tenant)).json()
            if job["status"] in wanted:
                return job
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {job_id} never reached {wanted}: {job}")


@contextlib.asynccontextmanager
async def open_gateway(
    world: JobsWorld, directory: Path, database_url: str | None = None, **overrides: Any
) -> AsyncIterator[Gateway]:
    url = database_url or copy_database(world, directory)
    settings = jobs_settings(world, directory, url, **overrides)
    pool = shared_pool(world, settings)
    app = create_app(settings, runner_pool=pool)
    async with AsyncTestClient(app=app, base_url=ISSUER) as http:
        yield Gateway(http=http, settings=settings, app=app, pool=pool)
    for runner_id in world.local_runners:  # leave the shared runners as found
        pool.pause(runner_id, False)


@pytest.fixture
async def gateway(jobs_world: JobsWorld, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with open_gateway(jobs_world, tmp_path) as opened:
        yield opened


async def left_running(gateway: Gateway, template: dict[str, Any], job_id: str, restarts: int) -> None:
    """A job as a gateway that died mid-run leaves it: running, its lease long expired."""
    long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    engine = create_engine(gateway.settings.database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            row = await session.get(JobRow, template["id"])
            assert row is not None
            values = {column.key: getattr(row, column.key) for column in JOBS.columns}
            values.update(
                id=job_id,
                status="running",
                images=0,
                cost_usd=None,
                finished_at=None,
                started_at=long_ago,
                owner="gateway-that-died",
                heartbeat_at=long_ago,
                restarts=restarts,
                idempotency_key=None,
            )
            await session.execute(insert(JOBS), [values])
    finally:
        await engine.dispose()


def flux2_job(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": TINY_FLUX2,
        "prompt": "a lighthouse at dusk",
        "steps": 2,
        "seed": 7,
        "purpose": "commercial_product",
        "output_use": "publish",
    }
    body.update(overrides)
    return body


def sd_job(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": TINY_SD,
        "prompt": "a red bicycle",
        "seed": 3,
        "purpose": "commercial_product",
    }
    body.update(overrides)
    return body


def today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


__all__ = [
    "BFL_USAGE_URL",
    "FLUX_DEV_NCL",
    "HOBBY",
    "LOCAL_FLUX2",
    "LOCAL_SD",
    "PROVIDER_FLUX2",
    "STUDIO",
    "STUDIO_AGREEMENT",
    "TINY_FLUX2_TURBO",
]
