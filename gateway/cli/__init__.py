"""The `clearance` command. Each command group lives in its own module, loaded on demand so
`clearance --help` stays fast and a group's heavy imports (torch) are paid only when used."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

_GROUPS: dict[str, str] = {
    "db": "gateway.cli.db:db",
    "catalog": "gateway.cli.catalog:catalog",
    "policy": "gateway.cli.policy:policy",
    "audit": "gateway.cli.audit:audit",
    "import": "gateway.cli.imports:import_",
    "models": "gateway.cli.models:models",
    "serve": "gateway.cli.serve:serve",
    "keys": "gateway.cli.keys:keys",
    "tenants": "gateway.cli.admin:tenants",
    "clients": "gateway.cli.admin:clients",
    "agreements": "gateway.cli.admin:agreements",
    "demo": "gateway.cli.demo:demo",
    "jobs": "gateway.cli.jobs:jobs",
    "runners": "gateway.cli.admin_entries:runners",
}


class _LazyGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        """Runs the command; a database that cannot be reached or opened, a database URL that
        names no driver, or a file the command cannot read or write is one line on stderr and
        exit status 1, not a traceback. Anything else still raises."""
        try:
            return super().invoke(ctx)
        except click.ClickException:
            raise
        except BrokenPipeError:
            # Whoever read the output stopped reading (`| head`): stop quietly, as Unix tools do,
            # and keep Python from failing again on the closed stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:
            said = _environment_failure(exc)
            if said is None:
                raise
            raise click.ClickException(said) from exc

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in _GROUPS if self._find(name) is not None)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        return self._find(cmd_name)

    @staticmethod
    def _find(name: str) -> click.Command | None:
        target = _GROUPS.get(name)
        if target is None:
            return None
        module_name, attr = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:
                return None  # not built yet
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command


def _environment_failure(exc: Exception) -> str | None:
    from sqlalchemy import exc as sa

    from registry.db.unreachable import database_unreachable, first_line

    if isinstance(exc, sa.ArgumentError):  # NoSuchModuleError included: a URL naming no driver
        return f"--database-url: {exc}"
    if database_unreachable(exc):
        return f"the database cannot be used now: {first_line(exc)}"
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else first_line(exc)
    return None


@click.group(cls=_LazyGroup)
@click.option(
    "--data-dir",
    envvar="CLEARANCE_DATA_DIR",
    type=click.Path(),
    default=None,
    help="Data directory (default .clearance; env CLEARANCE_DATA_DIR).",
)
@click.option(
    "--database-url",
    envvar="CLEARANCE_DATABASE_URL",
    default=None,
    help="SQLAlchemy async URL (env CLEARANCE_DATABASE_URL).",
)
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, database_url: str | None) -> None:
    """Clearance: a license-aware registry and gateway for image-generation models."""
    from gateway.settings import Settings, SettingsError

    try:
        ctx.obj = Settings.from_env(data_dir=data_dir, database_url=database_url)
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
