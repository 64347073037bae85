"""`provide_*` dependencies of the OAuth controllers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.oauth.services import OAuthService
from gateway.runtime import GatewayRuntime

RUNTIME_STATE_KEY = "runtime"


def provide_runtime(state: State) -> GatewayRuntime:
    runtime = state[RUNTIME_STATE_KEY]
    assert isinstance(runtime, GatewayRuntime)
    return runtime


async def provide_db_session(runtime: NamedDependency[GatewayRuntime]) -> AsyncIterator[AsyncSession]:
    async with runtime.sessions() as session:
        yield session


def provide_oauth_service(
    runtime: NamedDependency[GatewayRuntime], db_session: NamedDependency[AsyncSession]
) -> OAuthService:
    return OAuthService(runtime, db_session)


def provide_client_address(request: Request[Any, Any, Any]) -> str | None:
    return request.client.host if request.client else None
