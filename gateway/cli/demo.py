"""`clearance demo`: set up the embedded defaults and show what Clearance holds.

Idempotent: migrates the SQLite database in the data directory, loads the built-in catalog
(an unchanged catalog loads as "unchanged") and prints licenses, models, adapters and the
purposes each license allows.
"""

from __future__ import annotations

import click

from gateway.cli.catalog import load, show
from gateway.settings import Settings
from registry.db import migrate


@click.command()
@click.pass_context
def demo(ctx: click.Context) -> None:
    """Migrate, load the built-in catalog and show it."""
    settings: Settings = ctx.obj
    click.echo(f"database: {settings.database_url}")
    migrate.upgrade(settings.database_url)
    ctx.invoke(load, with_builtin=True, files=())
    ctx.invoke(show)
