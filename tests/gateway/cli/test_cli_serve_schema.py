"""`clearance serve` refuses, before anything listens, a database whose schema this version's
migrations have not reached, and says what to run; every request would fail on it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import text

from gateway.cli import main
from registry.db import migrate
from registry.db.engine import create_engine


def _serve(tmp_path: Path, database_url: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path), "--database-url", database_url, "serve", "--port", "1"]
    )
    assert isinstance(outcome.exception, SystemExit), outcome.exception
    return outcome.exit_code, outcome.output


def test_a_database_never_migrated(tmp_path: Path, database_url: str) -> None:
    code, said = _serve(tmp_path, database_url)
    assert code == 1
    head = migrate.current_heads(database_url)[0]
    assert f"Error: the database has no schema; this version needs revision {head}" in said
    assert "run `clearance db upgrade`" in said


def test_a_database_migrated_by_an_older_version(tmp_path: Path, database_url: str) -> None:
    migrate.upgrade(database_url, "0005_jobs")
    code, said = _serve(tmp_path, database_url)
    assert code == 1
    assert "the database's schema is at revision 0005_jobs; this version needs" in said


async def test_behind_is_none_at_head_and_at_a_revision_it_does_not_know(database_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, database_url)
    assert await asyncio.to_thread(migrate.behind, database_url) is None
    # A newer version migrated it (a rolling upgrade): the older one still serves.
    engine = create_engine(database_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
    finally:
        await engine.dispose()
    assert await asyncio.to_thread(migrate.stored_revision, database_url) == "9999_from_the_future"
    assert await asyncio.to_thread(migrate.behind, database_url) is None
