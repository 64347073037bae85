"""docs/audit.md's PostgreSQL role set-up, for real: the application role appends but cannot edit
or delete history; only the retention role, through `audit_purge_through`, can purge."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from audit_samples import sample_event
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import AuditLog, load_or_create_signing_key, purge_before, verify_chain
from registry.db import migrate
from registry.db.engine import create_engine

TABLES = "audit_events, audit_checkpoints, audit_anchors"
SEQUENCES = "audit_checkpoints_id_seq, audit_anchors_id_seq"


@pytest.fixture
async def roles(postgres_url: str) -> AsyncIterator[dict[str, str]]:
    """URLs for an owner (the test superuser ran the migration), an app and a retention role."""
    migrate.upgrade(postgres_url)
    suffix = uuid.uuid4().hex[:8]
    app, retention = f"clearance_app_{suffix}", f"clearance_retention_{suffix}"
    owner = create_engine(postgres_url)
    async with owner.begin() as connection:
        for statement in (
            f"CREATE ROLE {app} LOGIN",
            f"CREATE ROLE {retention} LOGIN",
            f"GRANT USAGE ON SCHEMA public TO {app}, {retention}",
            f"GRANT SELECT, INSERT ON {TABLES} TO {app}",
            f"GRANT SELECT, INSERT ON {TABLES} TO {retention}",
            f"GRANT USAGE ON SEQUENCE {SEQUENCES} TO {app}, {retention}",
            f"GRANT EXECUTE ON FUNCTION audit_purge_through(bigint) TO {retention}",
        ):
            await connection.execute(text(statement))
    url = make_url(postgres_url)
    try:
        yield {
            "owner": postgres_url,
            "app": url.set(username=app).render_as_string(hide_password=False),
            "retention": url.set(username=retention).render_as_string(hide_password=False),
        }
    finally:
        async with owner.begin() as connection:
            for role in (app, retention):
                await connection.execute(text(f"DROP OWNED BY {role}"))
                await connection.execute(text(f"DROP ROLE {role}"))
        await owner.dispose()


async def _attempt(engine: AsyncEngine, statement: str) -> str:
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    except DBAPIError as exc:
        return str(exc.orig)
    return "done"


async def test_app_role_appends_but_cannot_rewrite_or_purge(roles: dict[str, str], tmp_path: Path) -> None:
    app = create_engine(roles["app"])
    signer = load_or_create_signing_key(tmp_path)
    try:
        async with AuditLog(app, signer=signer, clock=lambda: dt.datetime(2026, 1, 1, tzinfo=dt.UTC)) as log:
            for i in range(5):
                await log.append(sample_event(i))
        for statement in (
            "DELETE FROM audit_events WHERE seq = 1",
            "UPDATE audit_events SET tenant = 'x'",
            "TRUNCATE audit_events",
            "ALTER TABLE audit_events DISABLE TRIGGER USER",
            "SELECT audit_purge_through(5)",
        ):
            refusal = await _attempt(app, statement)
            assert "permission denied" in refusal or "must be owner" in refusal, statement
        assert (await verify_chain(app, verifier=signer)).ok
    finally:
        await app.dispose()

    retention = create_engine(roles["retention"])
    try:
        report = await purge_before(
            retention, dt.datetime(2026, 1, 2, tzinfo=dt.UTC), signer=signer, actor_subject="ops"
        )
        assert (report.purged_events, report.purge_event.seq) == (5, 6)
        assert "permission denied" in await _attempt(retention, "DELETE FROM audit_events")
        assert (await verify_chain(retention, verifier=signer)).ok
    finally:
        await retention.dispose()
