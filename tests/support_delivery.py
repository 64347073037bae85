"""Database and clock helpers shared by the delivery tests (outbox, webhooks, idempotency)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.db import migrate
from registry.db.engine import create_engine, session_factory


@asynccontextmanager
async def migrated_sessions(url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on `url` brought to the head migration (0004_delivery holds the delivery tables)."""
    import asyncio

    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_engine(url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


class FakeClock:
    """A clock the test moves by hand, so schedules measured in hours run instantly."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = start or dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now
