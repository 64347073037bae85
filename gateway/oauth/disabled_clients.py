"""Clients an administrator disabled: their outstanding tokens stop working at the next state
sync (CLEARANCE_STATE_SYNC_SECONDS), not only when they expire."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from registry.identity.clients import OAuthClientRecord


class DisabledClients:
    def __init__(self) -> None:
        self._ids: frozenset[str] = frozenset()

    def __contains__(self, client_id: object) -> bool:
        return client_id in self._ids

    def add(self, client_id: str) -> None:
        self._ids = self._ids | {client_id}

    async def sync(self, session: AsyncSession) -> None:
        rows = await session.scalars(
            select(OAuthClientRecord.client_id).where(OAuthClientRecord.disabled.is_(True))
        )
        self._ids = frozenset(rows)
