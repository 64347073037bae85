"""`clearance db upgrade|downgrade`."""

from __future__ import annotations

import click

from gateway.settings import Settings
from registry.db import migrate


@click.group()
def db() -> None:
    """Database migrations."""


@db.command()
@click.argument("revision", default="head")
@click.pass_obj
def upgrade(settings: Settings, revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}")


@db.command()
@click.argument("revision")
@click.pass_obj
def downgrade(settings: Settings, revision: str) -> None:
    """Revert migrations down to REVISION (`base` for an empty database)."""
    migrate.downgrade(settings.database_url, revision)
    click.echo(f"database at revision {revision}")
