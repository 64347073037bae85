"""Whether a tenant exists and is not retired: a retired tenant's tokens must stop working.

Our own tokens name the tenant of a registered client, which an admin may have retired since the
token was issued; a trusted external issuer names it in a claim, which may also name a tenant never
created here. Neither may act for a tenant that is not active. The answers are remembered until
the next state sync (CLEARANCE_STATE_SYNC_SECONDS), and forgotten at once when this process
changes the catalog, so a retirement made here applies to the next request and one made elsewhere
(another server, the CLI) within the sync interval.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.health.errors import DatabaseUnavailableError
from registry.db.catalog_tables import TenantRow


class TenantStatus:
    def __init__(
        self, sessions: Callable[[], async_sessionmaker[AsyncSession]], *, limit: int = 10_000
    ) -> None:
        self._sessions = sessions
        self._active: dict[str, bool] = {}
        self._limit = limit
        self._generation = 0
        """Bumped by `forget`: an answer read before a retirement is not remembered after it."""

    async def is_active(self, tenant_id: str) -> bool:
        """True when the tenant exists and is not retired; `DatabaseUnavailableError` (503) when
        the database cannot say (an error never grants)."""
        known = self._active.get(tenant_id)
        if known is not None:
            return known
        generation = self._generation
        try:
            async with self._sessions()() as session:
                retired = await session.scalar(select(TenantRow.retired).where(TenantRow.id == tenant_id))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise DatabaseUnavailableError(f"tenants cannot be read: {type(exc).__name__}") from exc
        active = retired is False
        if generation == self._generation:
            if len(self._active) >= self._limit:
                self._active.clear()
            self._active[tenant_id] = active
        return active

    def forget(self) -> None:
        """Ask the database again (the catalog changed here, or it is time for a state sync)."""
        self._generation += 1
        self._active = {}
