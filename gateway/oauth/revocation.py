"""Revoked token ids: a set in memory (checked on every request) kept in step with the
database, where revocations from any process land."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.db.upsert import upsert_insert
from registry.identity.revoked_tokens import RevokedTokenRecord

_SYNC_OVERLAP = dt.timedelta(seconds=5)


class RevocationList:
    def __init__(self) -> None:
        self._expiry_by_jti: dict[str, float] = {}
        self._synced_up_to: dt.datetime | None = None

    def is_revoked(self, jti: str) -> bool:
        return jti in self._expiry_by_jti

    def add(self, jti: str, expires_at: float) -> None:
        self._expiry_by_jti[jti] = expires_at

    def __len__(self) -> int:
        return len(self._expiry_by_jti)

    def prune(self, now: float) -> None:
        """Forget ids whose tokens expired: they are rejected for being expired anyway."""
        self._expiry_by_jti = {jti: exp for jti, exp in self._expiry_by_jti.items() if exp > now}

    async def sync(self, session: AsyncSession, now: dt.datetime) -> None:
        """Pick up revocations recorded since the last sync (with an overlap for clock skew
        between writers)."""
        query = select(RevokedTokenRecord.jti, RevokedTokenRecord.expires_at).where(
            RevokedTokenRecord.expires_at > now
        )
        if self._synced_up_to is not None:
            query = query.where(RevokedTokenRecord.revoked_at >= self._synced_up_to - _SYNC_OVERLAP)
        for jti, expires_at in await session.execute(query):
            self._expiry_by_jti[jti] = expires_at.timestamp()
        self._synced_up_to = now
        self.prune(now.timestamp())


async def record_revocation(
    session: AsyncSession, *, jti: str, client_id: str, expires_at: dt.datetime, now: dt.datetime
) -> None:
    """Idempotent: revoking twice is fine. Expired rows are cleaned up on the way."""
    values = {"jti": jti, "client_id": client_id, "expires_at": expires_at, "revoked_at": now}
    await session.execute(upsert_insert(session, RevokedTokenRecord).values(values).on_conflict_do_nothing())
    await session.execute(delete(RevokedTokenRecord).where(RevokedTokenRecord.expires_at <= now))
    await session.commit()
