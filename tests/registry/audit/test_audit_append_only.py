"""The database itself refuses edits to the audit tables; only the purge path may delete."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest
from audit_samples import sample_event
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import AppendedEvent, AuditLog, CheckpointSigner
from registry.db import migrate
from registry.db.engine import create_engine

Append = Callable[[int], Awaitable[list[AppendedEvent]]]

EDITS = [
    "UPDATE audit_events SET kind = 'x' WHERE seq = 2",
    "UPDATE audit_events SET seq = 99 WHERE seq = 3",
    "DELETE FROM audit_events WHERE seq = 1",
    "DELETE FROM audit_events",
    "UPDATE audit_checkpoints SET seq = 1",
    "DELETE FROM audit_checkpoints",
]


async def test_updates_and_deletes_are_rejected(
    audit_engine: AsyncEngine, append_events: Append, signer: CheckpointSigner
) -> None:
    await append_events(3)
    async with AuditLog(audit_engine, signer=signer) as log:
        await log.checkpoint()
    statements = list(EDITS)
    if audit_engine.dialect.name == "postgresql":
        statements += ["TRUNCATE audit_events", "TRUNCATE audit_checkpoints", "TRUNCATE audit_anchors"]
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            async with audit_engine.begin() as connection:
                await connection.execute(text(statement))
    async with audit_engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM audit_events"))).scalar_one() == 3


async def test_postgres_deletes_only_through_the_purge_function(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    audit_engine = create_engine(postgres_url)
    try:
        await _purge_function_is_the_only_way(audit_engine)
    finally:
        await audit_engine.dispose()


async def _purge_function_is_the_only_way(audit_engine: AsyncEngine) -> None:
    async with AuditLog(audit_engine) as log:
        for i in range(5):
            await log.append(sample_event(i))
    async with audit_engine.begin() as connection:
        await connection.execute(text("SELECT set_config('clearance.audit_purge_through', '2', true)"))
        with pytest.raises(DBAPIError, match="append-only"):
            await connection.execute(text("DELETE FROM audit_events WHERE seq <= 3"))
        await connection.rollback()
    async with audit_engine.begin() as connection:
        purged = (await connection.execute(text("SELECT audit_purge_through(2)"))).scalar_one()
        assert purged == 2
        with pytest.raises(DBAPIError, match="append-only"):  # the setting does not outlive the call
            async with connection.begin_nested():
                await connection.execute(text("DELETE FROM audit_events WHERE seq = 3"))
