"""Client assertions (RFC 7523) are single use, across every gateway process on one database.

Two checks, in order. In memory, per process (`AssertionReplayCache`): a replay to the same
process is refused inside Authlib, without a database round trip. In the database
(`record_first_use`): once Authlib has accepted the assertion and before the token is issued, one
atomic INSERT of (client id, `jti`) decides which request used it first, whichever process it
reached; the others are refused exactly like an in-memory replay.

Both remember an assertion until `exp` plus the clock leeway, as long as Authlib would still
accept it. Expired rows are deleted by `purge_expired_assertions`, which the gateway runtime's
state sync loop runs at most once every `ASSERTION_PURGE_SECONDS` per process.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.upsert import upsert_insert
from registry.identity.used_client_assertions import UsedClientAssertionRecord

ASSERTION_PURGE_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class UsedAssertion:
    """An accepted client assertion, remembered until `expires_at`."""

    client_id: str
    jti: str
    expires_at: dt.datetime


class AssertionReplayCache:
    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._expiry_by_id: dict[str, float] = {}
        self._max_entries = max_entries
        self._clock = clock

    def first_use(self, assertion_id: str, expires_at: float) -> bool:
        now = self._clock()
        if len(self._expiry_by_id) >= self._max_entries:
            self._expiry_by_id = {key: exp for key, exp in self._expiry_by_id.items() if exp > now}
        seen = self._expiry_by_id.get(assertion_id)
        if seen is not None and seen > now:
            return False
        self._expiry_by_id[assertion_id] = expires_at
        return True


async def record_first_use(session: AsyncSession, used: UsedAssertion, now: dt.datetime) -> bool:
    """True when no process used this assertion before; committed before it answers.

    One statement, atomic on SQLite and PostgreSQL: it inserts the row, or takes over a row left
    by an expired assertion with the same `jti` (not purged yet), or does nothing and returns no
    row when the assertion is still remembered.
    """
    record = UsedClientAssertionRecord
    values = upsert_insert(session, record).values(
        client_id=used.client_id, jti=used.jti, expires_at=used.expires_at
    )
    statement = values.on_conflict_do_update(
        index_elements=[record.client_id, record.jti],
        set_={"expires_at": values.excluded.expires_at},
        where=record.expires_at <= now,
    ).returning(record.client_id)
    first = (await session.execute(statement)).first() is not None
    await session.commit()
    return first


async def purge_expired_assertions(session: AsyncSession, now: dt.datetime) -> int:
    """Delete the rows of assertions that expired; returns how many (committed)."""
    result = await session.execute(
        delete(UsedClientAssertionRecord).where(UsedClientAssertionRecord.expires_at <= now)
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
