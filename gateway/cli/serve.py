"""`clearance serve`: the gateway under uvicorn.

Graceful shutdown: on SIGTERM/SIGINT uvicorn stops accepting connections, lets requests in
flight finish for up to CLEARANCE_SHUTDOWN_GRACE_SECONDS, then runs the app's lifespan exit
(background sync stopped, database pool disposed).
"""

from __future__ import annotations

import logging

import click
import uvicorn
from uvicorn.config import LOGGING_CONFIG

from gateway.app import create_app
from gateway.cli.logs import json_log_config
from gateway.settings import Settings
from registry.db.migrate import behind
from registry.db.unreachable import database_unreachable, first_line
from registry.policy.memory import use_huge_page_arenas


def uvicorn_config(settings: Settings, host: str, port: int, *, access_log: bool = True) -> uvicorn.Config:
    return uvicorn.Config(
        create_app(settings, freeze_startup_heap=True),
        host=host,
        port=port,
        lifespan="on",
        proxy_headers=False,
        server_header=False,
        access_log=access_log,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        log_level="info",
        # Applied after the app (and Litestar's logging) is set up: it has the last word.
        log_config=json_log_config() if settings.log_format == "json" else LOGGING_CONFIG,
    )


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port.")
@click.option("--no-access-log", is_flag=True, help="Do not log every request.")
@click.pass_obj
def serve(settings: Settings, host: str, port: int, no_access_log: bool) -> None:
    """Serve the HTTP API (run `clearance db upgrade` first)."""
    # before the app and its catalog are built: arenas made before keep their 4 KiB pages
    arenas = use_huge_page_arenas() if settings.huge_page_arenas else "off: CLEARANCE_HUGE_PAGE_ARENAS"
    config = uvicorn_config(settings, host, port, access_log=not no_access_log)
    # logged once uvicorn's logging is set up (JSON lines where asked)
    logging.getLogger("uvicorn.error").info("Python's arenas in transparent huge pages: %s", arenas)
    _refuse_a_schema_behind(settings.database_url)
    uvicorn.Server(config).run()


def _refuse_a_schema_behind(database_url: str) -> None:
    """A database this version's migrations have not reached stops `serve` with what to do,
    before anything listens; every request would fail on it. A database that cannot be used
    now is served anyway, as when it goes away later: `/health/ready` answers 503 until it can
    be used."""
    try:
        why = behind(database_url)
    except Exception as exc:
        if not database_unreachable(exc):
            raise
        logging.getLogger("uvicorn.error").warning(
            "the database cannot be used now (%s); serving, /health/ready answers 503 until it can",
            first_line(exc),
        )
        return
    if why is not None:
        raise click.ClickException(f"{why}: run `clearance db upgrade`")
