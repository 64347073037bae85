"""Whether a tenant exists and is not retired, for tokens whose tenant the server did not set.

Our own tokens name the tenant of a registered client (a foreign key). A trusted external issuer
names it in a claim, which may name a tenant never created here or one an admin retired: such a
token must not act for it. The answers are remembered until the next state sync
(CLEARANCE_STATE_SYNC_SECONDS), and forgotten at once when this process changes the catalog, so a
retirement made here applies to the next request and one made elsewhere within the sync interval.
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

    async def is_active(self, tenant_id: str) -> bool:
        """True when the tenant exists and is not retired; `DatabaseUnavailableError` (503) when
        the database cannot say (an error never grants)."""
        known = self._active.get(tenant_id)
        if known is not None:
            return known
        try:
            async with self._sessions()() as session:
                retired = await session.scalar(select(TenantRow.retired).where(TenantRow.id == tenant_id))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise DatabaseUnavailableError(f"tenants cannot be read: {type(exc).__name__}") from exc
        if len(self._active) >= self._limit:
            self._active.clear()
        active = self._active[tenant_id] = retired is False
        return active

    def forget(self) -> None:
        """Ask the database again (the catalog changed here, or it is time for a state sync)."""
        self._active = {}
