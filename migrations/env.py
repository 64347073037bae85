"""Alembic environment: async engines for SQLite (batch mode) and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from registry.db.engine import create_unpooled_engine
from registry.db.models import metadata

config = context.config
target_metadata = metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str) -> None:
    engine = create_unpooled_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_configure)
            await connection.commit()
    finally:
        await engine.dispose()


def _run_in_fresh_loop(url: str) -> None:
    # Alembic may be called from inside a running event loop (tests, the app): run ours apart.
    error: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(_run_async(url))
        except BaseException as exc:
            error.append(exc)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if error:
        raise error[0]


def run_migrations_online() -> None:
    connection: Any = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    _run_in_fresh_loop(config.get_main_option("sqlalchemy.url") or "")


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
