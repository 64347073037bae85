"""Everything `clearance demo` does before serving, each step safe to repeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio

from gateway.admin.actor import Actor
from gateway.demo.catalog import HOBBY, STUDIO, demo_catalog
from gateway.demo.credentials import DemoClient, rotate_demo_clients, write_credentials
from gateway.demo.models import ensure_tiny_models
from gateway.settings import Settings
from registry.audit import append_in_session, catalog_load_event
from registry.catalog.builtin import load_builtin_catalog
from registry.catalog.entries import Catalog
from registry.catalog.store import load_catalog
from registry.db import migrate
from registry.db.engine import create_engine, session_factory


@dataclass(frozen=True)
class PreparedDemo:
    clients: list[DemoClient]
    credentials_path: Path


async def set_up_demo(settings: Settings, base_url: str, *, echo: Callable[[str], None]) -> PreparedDemo:
    await anyio.to_thread.run_sync(migrate.upgrade, settings.database_url)
    models, built = await anyio.to_thread.run_sync(ensure_tiny_models, settings.data_dir / "models")
    echo(f"tiny models {'built' if built else 'reused'} in {models.root}")
    summary = await load_demo_catalog(settings, demo_catalog(models))
    echo(f"catalog: {summary}")
    clients = await rotate_demo_clients(settings, (HOBBY, STUDIO))
    path = write_credentials(settings.data_dir, base_url, clients)
    return PreparedDemo(clients=clients, credentials_path=path)


async def load_demo_catalog(settings: Settings, site: Catalog) -> str:
    """The built-in catalog and the demo's in one audited transaction (as `catalog load` does)."""
    engine = create_engine(settings.database_url)
    summaries = []
    try:
        async with session_factory(engine)() as session, session.begin():
            for name, catalog in (("built-in", load_builtin_catalog()), ("demo", site)):
                report = await load_catalog(session, catalog)
                event = catalog_load_event(
                    report, actor_subject=Actor.cli().subject, sources=[f"clearance demo: {name}"]
                )
                await append_in_session(session, [event])
                summaries.append(f"{name} {report.summary()}")
    finally:
        await engine.dispose()
    return "; ".join(summaries)
