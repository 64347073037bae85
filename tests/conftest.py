"""Shared fixtures: a fresh, migrated database per test on real SQLite and real PostgreSQL.

PostgreSQL tests skip when the server is unreachable, except when `CLEARANCE_REQUIRE_POSTGRES=1`
(set by `.ci/run`), where they fail.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.db import migrate
from registry.db.engine import create_engine
from tests.support_s3 import s3_bucket, s3_endpoint

__all__ = ["s3_bucket", "s3_endpoint"]  # an S3 server on loopback (tests.support_s3)

os.environ.setdefault("HF_HUB_OFFLINE", "1")

POSTGRES_ADMIN_DSN = os.environ.get(
    "CLEARANCE_TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)


def _postgres_url(database: str) -> str:
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{database}"


async def _admin(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _postgres_unreachable(exc: BaseException) -> None:
    if os.environ.get("CLEARANCE_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL is required but unreachable: {exc}")
    pytest.skip(f"PostgreSQL unreachable: {exc}")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """URL of a brand-new, empty PostgreSQL database, dropped after the test."""
    name = f"clearance_t_{uuid.uuid4().hex[:16]}"
    try:
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    except (TimeoutError, OSError) as exc:
        _postgres_unreachable(exc)
    try:
        yield _postgres_url(name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'clearance.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once on SQLite and once on PostgreSQL."""
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


@pytest.fixture
def migrated_url(database_url: str) -> str:
    """A database at the head migration."""
    migrate.upgrade(database_url)
    return database_url


@pytest.fixture
async def engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_url)
    try:
        yield engine
    finally:
        await engine.dispose()
