"""The migrations and the ORM models agree, on SQLite and on PostgreSQL, and downgrade cleanly."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from registry.db import migrate
from registry.db.engine import create_unpooled_engine
from registry.db.models import metadata


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "render_as_batch": connection.dialect.name == "sqlite",
            "target_metadata": metadata,
        },
    )
    return list(compare_metadata(context, metadata))


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


async def _run(url: str, fn: Any) -> Any:
    engine = create_unpooled_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(fn)
    finally:
        await engine.dispose()


async def test_autogenerate_finds_no_difference_between_models_and_migrations(migrated_url: str) -> None:
    assert await _run(migrated_url, _diff) == []


async def test_head_creates_every_table_of_the_models(migrated_url: str) -> None:
    assert await _run(migrated_url, _tables) == set(metadata.tables)


async def test_downgrade_to_base_then_upgrade_again(migrated_url: str) -> None:
    migrate.downgrade(migrated_url, "base")
    assert await _run(migrated_url, _tables) == set()
    migrate.upgrade(migrated_url)
    assert await _run(migrated_url, _diff) == []


@pytest.mark.parametrize(
    ("revision", "dropped"),
    [
        ("0013_operator_controls", {"catalog_revision"}),
        ("0012_client_secret_rotation", {"catalog_revision"}),  # 0013 adds columns and an index
        ("0010_webhook_secret_rotation", {"catalog_revision"}),  # 0011 adds a column only
        ("0009_tenant_slot_leases", {"catalog_revision"}),  # 0010 adds columns only
        ("0008_tenant_rate_windows", {"catalog_revision", "tenant_slot_leases"}),
        ("0007_used_client_assertions", {"catalog_revision", "tenant_slot_leases", "tenant_rate_windows"}),
        (
            "0006_job_restarts",
            {"catalog_revision", "tenant_slot_leases", "tenant_rate_windows", "used_client_assertions"},
        ),
    ],
)
async def test_recent_migrations_downgrade_and_upgrade_again(
    migrated_url: str, revision: str, dropped: set[str]
) -> None:
    migrate.downgrade(migrated_url, revision)
    assert await _run(migrated_url, _tables) == set(metadata.tables) - dropped
    migrate.upgrade(migrated_url)
    assert await _run(migrated_url, _diff) == []
