"""Apply Alembic migrations programmatically (`clearance db upgrade`, tests, the demo)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str) -> Config:
    if not MIGRATIONS_DIR.is_dir():
        raise FileNotFoundError(f"migrations directory not found at {MIGRATIONS_DIR}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Blocking: call from a thread (or outside an event loop); Alembic runs its own loop."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    command.downgrade(alembic_config(url), revision)


def current_heads(url: str) -> list[str]:
    from alembic.script import ScriptDirectory

    return list(ScriptDirectory.from_config(alembic_config(url)).get_heads())


def stored_revision(url: str) -> str | None:
    """The revision the database's schema is at (None: never migrated). Blocking, like
    `upgrade`; raises what connecting raises where the database cannot be used."""
    import asyncio

    from alembic.runtime.migration import MigrationContext

    from registry.db.engine import create_unpooled_engine

    async def read() -> str | None:
        engine = create_unpooled_engine(url)
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
        finally:
            await engine.dispose()

    return asyncio.run(read())


def behind(url: str) -> str | None:
    """Why this version cannot serve the database's schema, or None when it can: never
    migrated, or at a revision older than this version's head. A revision this version does not
    know (a newer version migrated it, as in a rolling upgrade) is left to serve."""
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(alembic_config(url))
    heads = scripts.get_heads()
    revision = stored_revision(url)
    if revision is None:
        return f"the database has no schema; this version needs revision {', '.join(heads)}"
    if revision in heads:
        return None
    known = {script.revision for script in scripts.walk_revisions()}
    if revision not in known:
        return None
    return f"the database's schema is at revision {revision}; this version needs {', '.join(heads)}"
