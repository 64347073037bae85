"""`/health/live` (the process answers) and `/health/ready` (it can do its work: the database
answers and a signing key is loaded)."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from gateway.auth.middleware import EXCLUDE_FROM_AUTH
from gateway.health.errors import DatabaseUnavailableError
from gateway.runtime import GatewayRuntime


class HealthStatus(msgspec.Struct, kw_only=True):
    status: str


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {EXCLUDE_FROM_AUTH: True}

    @get("/live", summary="Liveness probe")
    async def live(self) -> HealthStatus:
        return HealthStatus(status="ok")

    @get("/ready", summary="Readiness probe: 503 when the database is unreachable")
    async def ready(self, runtime: NamedDependency[GatewayRuntime]) -> HealthStatus:
        timeout = runtime.settings.readiness_timeout_seconds
        try:
            async with asyncio.timeout(timeout), runtime.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            raise DatabaseUnavailableError("the database is unreachable") from exc
        if not runtime.keyring.loaded:
            await runtime.sync_state(create_key=True)
            if not runtime.keyring.loaded:
                raise DatabaseUnavailableError("no token signing key loaded yet")
        return HealthStatus(status="ok")
