"""The two apps the benchmark serves with identical uvicorn settings (uvicorn `--factory`)."""

from __future__ import annotations

from litestar import Litestar, get

from gateway.app import create_app
from gateway.settings import Settings


def gateway_app() -> Litestar:
    """The real gateway, configured from `CLEARANCE_*` like `clearance serve`."""
    return create_app(Settings.from_env())


@get("/constant", sync_to_thread=False)
def constant() -> dict[str, str]:
    return {"status": "ok"}


def bare_app() -> Litestar:
    """A bare Litestar app answering a constant: the floor the gateway is compared with."""
    return Litestar(route_handlers=[constant])
