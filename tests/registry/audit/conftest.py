"""Audit fixtures: an engine on a migrated database, a signing key, a chain, and a way to tamper.

Tampering bypasses the append-only triggers the way an attacker with the owner's rights would:
dropping them on SQLite, disabling them on PostgreSQL (the test user is a superuser).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from audit_samples import sample_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import AppendedEvent, AuditLog, CheckpointSigner, load_or_create_signing_key
from registry.db.engine import create_engine

APPEND_ONLY_TABLES = ("audit_events", "audit_checkpoints", "audit_anchors")

Tamper = Callable[..., Awaitable[None]]


@pytest.fixture
async def audit_engine(migrated_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(migrated_url)
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture
def signer(tmp_path: Path) -> CheckpointSigner:
    return load_or_create_signing_key(tmp_path / "data")


@pytest.fixture
def append_events(audit_engine: AsyncEngine) -> Callable[[int], Awaitable[list[AppendedEvent]]]:
    async def append(count: int) -> list[AppendedEvent]:
        async with AuditLog(audit_engine) as log:
            return [await log.append(sample_event(i)) for i in range(count)]

    return append


@pytest.fixture
def tamper(audit_engine: AsyncEngine) -> Tamper:
    """Run raw SQL statements on the audit tables with the triggers out of the way."""

    async def run(*statements: str) -> None:
        async with audit_engine.begin() as connection:
            postgres = connection.dialect.name == "postgresql"
            for table in APPEND_ONLY_TABLES:
                if postgres:
                    await connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
                else:
                    for operation in ("update", "delete"):
                        await connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_reject_{operation}"))
            for statement in statements:
                await connection.exec_driver_sql(statement)
            if postgres:
                for table in APPEND_ONLY_TABLES:
                    await connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))

    return run
