"""Idempotency keys for POST requests, scoped per tenant and kept 24 hours.

`begin` inserts the key in its own committed transaction, so a concurrent duplicate sees it at
once and gets `Conflict` (409) rather than creating a second job. Record the response with
`complete` — ideally in the same transaction that creates the job (pass its session), so a crash
can never leave a job without its recorded response. A key left `in_progress` by a crash may be
taken over after `stale_after`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.delivery.tables import IdempotencyKeyRow

IN_PROGRESS = "in_progress"
DONE = "done"
DEFAULT_TTL = dt.timedelta(hours=24)
DEFAULT_STALE_AFTER = dt.timedelta(minutes=10)
MAX_KEY_LENGTH = 255


class IdempotencyKeyError(ValueError):
    """An `Idempotency-Key` header that cannot be used (empty, too long, not printable ASCII)."""


@dataclass(frozen=True)
class Started:
    """First time this key is seen: process the request, then call `complete`."""


@dataclass(frozen=True)
class Replay:
    """Same key, same body, already answered: send this response again."""

    status: int
    body: bytes
    content_type: str | None
    resource_id: str | None


@dataclass(frozen=True)
class Conflict:
    """Same key while the first request is still in progress: answer 409."""


@dataclass(frozen=True)
class Mismatch:
    """Same key with a different body: answer 422."""


BeginResult = Started | Replay | Conflict | Mismatch


def hash_request_body(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def check_idempotency_key(key: str) -> str:
    if not key or len(key) > MAX_KEY_LENGTH or any(not 0x20 < ord(c) < 0x7F for c in key):
        raise IdempotencyKeyError(
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters without spaces"
        )
    return key


class IdempotencyStore:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        ttl: dt.timedelta = DEFAULT_TTL,
        stale_after: dt.timedelta = DEFAULT_STALE_AFTER,
    ) -> None:
        self._sessions = sessions
        self.ttl = ttl
        self.stale_after = stale_after

    async def begin(self, tenant_id: str, key: str, body_hash: str, *, now: dt.datetime) -> BeginResult:
        check_idempotency_key(key)
        for _ in range(3):
            try:
                async with self._sessions() as session, session.begin():
                    session.add(
                        IdempotencyKeyRow(
                            tenant_id=tenant_id,
                            key=key,
                            request_hash=body_hash,
                            state=IN_PROGRESS,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                return Started()
            except IntegrityError:
                pass
            verdict = await self._existing(tenant_id, key, body_hash, now)
            if verdict is not None:
                return verdict
        return Conflict()

    async def _existing(
        self, tenant_id: str, key: str, body_hash: str, now: dt.datetime
    ) -> BeginResult | None:
        """The answer for an existing row, or None once an expired or stale row was removed."""
        async with self._sessions() as session, session.begin():
            row = await session.get(IdempotencyKeyRow, (tenant_id, key))
            if row is None:
                return None
            if row.created_at <= now - self.ttl or (
                row.state == IN_PROGRESS and row.updated_at <= now - self.stale_after
            ):
                await session.execute(
                    delete(IdempotencyKeyRow).where(
                        IdempotencyKeyRow.tenant_id == tenant_id,
                        IdempotencyKeyRow.key == key,
                        IdempotencyKeyRow.updated_at == row.updated_at,
                    )
                )
                return None
            if row.request_hash != body_hash:
                return Mismatch()
            if row.state == IN_PROGRESS or row.response_status is None:
                return Conflict()
            return Replay(
                status=row.response_status,
                body=row.response_body or b"",
                content_type=row.response_content_type,
                resource_id=row.resource_id,
            )

    async def complete(
        self,
        tenant_id: str,
        key: str,
        *,
        status: int,
        body: bytes,
        now: dt.datetime,
        content_type: str | None = "application/json",
        resource_id: str | None = None,
        session: AsyncSession | None = None,
    ) -> None:
        """Record the response. With `session`, it joins the caller's transaction (not committed here)."""
        statement = (
            update(IdempotencyKeyRow)
            .where(IdempotencyKeyRow.tenant_id == tenant_id, IdempotencyKeyRow.key == key)
            .values(
                state=DONE,
                response_status=status,
                response_body=body,
                response_content_type=content_type,
                resource_id=resource_id,
                updated_at=now,
            )
        )
        if session is not None:
            await session.execute(statement)
            return
        async with self._sessions() as own, own.begin():
            await own.execute(statement)

    async def abandon(self, tenant_id: str, key: str) -> None:
        """Forget an in-progress key (the request failed before any effect), so a retry may run."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                delete(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.tenant_id == tenant_id,
                    IdempotencyKeyRow.key == key,
                    IdempotencyKeyRow.state == IN_PROGRESS,
                )
            )

    async def purge(self, *, now: dt.datetime) -> int:
        """Delete keys older than the time to live; returns how many."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(IdempotencyKeyRow).where(IdempotencyKeyRow.created_at <= now - self.ttl)
            )
        return int(getattr(result, "rowcount", 0) or 0)

    async def lookup(self, tenant_id: str, key: str) -> IdempotencyKeyRow | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(IdempotencyKeyRow).where(
                    IdempotencyKeyRow.tenant_id == tenant_id, IdempotencyKeyRow.key == key
                )
            )
