"""`clearance catalog validate|load|export|show`: catalog files in and out of the database.

Every failure is a precise message (file, entry, field) on stderr, a non-zero exit, and nothing
written: loads run in one transaction, exports are written only once complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import NoReturn, TypeVar

import click
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.audit import cli_actor
from gateway.cli.catalog_view import render_catalog
from gateway.settings import Settings
from registry.audit import append_in_session, catalog_load_event
from registry.catalog.builtin import builtin_catalog_paths
from registry.catalog.entries import Catalog
from registry.catalog.errors import CatalogError
from registry.catalog.files import dump_catalog, read_catalog_files
from registry.catalog.store import LoadReport, export_catalog, load_catalog, read_catalog
from registry.catalog.validation import validate_catalog
from registry.db.engine import create_engine, session_factory

T = TypeVar("T")

_FILES = click.argument("files", nargs=-1, type=click.Path(dir_okay=False, path_type=Path))


@click.group()
def catalog() -> None:
    """Catalog files: licenses, artifacts, tenants, agreements, runners."""


@catalog.command()
@click.option(
    "--builtin", "with_builtin", is_flag=True, help="Check FILES together with the built-in catalog."
)
@click.option(
    "--against-database",
    is_flag=True,
    help="Resolve references against the catalog the database already holds.",
)
@_FILES
@click.pass_obj
def validate(settings: Settings, with_builtin: bool, against_database: bool, files: tuple[Path, ...]) -> None:
    """Check catalog FILES (merged) without writing anything."""
    paths = [*(builtin_catalog_paths() if with_builtin else []), *files]
    if not paths:
        raise click.UsageError("give catalog FILES or --builtin")
    existing = _with_session(settings, read_catalog) if against_database else None
    try:
        sourced = read_catalog_files(paths)
        validate_catalog(sourced, existing=existing)
    except CatalogError as exc:
        _fail(exc)
    click.echo(f"valid: {_counts(sourced.catalog)}")


@catalog.command()
@click.option("--builtin", "with_builtin", is_flag=True, help="Load the built-in catalog (before FILES).")
@_FILES
@click.pass_obj
def load(settings: Settings, with_builtin: bool, files: tuple[Path, ...]) -> None:
    """Upsert FILES (and/or the built-in catalog) into the database, in one transaction."""
    paths = [*(builtin_catalog_paths() if with_builtin else []), *files]
    if not paths:
        raise click.UsageError("give catalog FILES or --builtin")
    try:
        sourced = read_catalog_files(paths)
    except CatalogError as exc:
        _fail(exc)

    async def write(session: AsyncSession) -> LoadReport:
        async with session.begin():
            report = await load_catalog(session, sourced)
            event = catalog_load_event(report, actor_subject=cli_actor(), sources=[str(p) for p in paths])
            await append_in_session(session, [event])  # audited in the load's own transaction
            return report

    report = _with_session(settings, write)
    click.echo(f"loaded {len(paths)} file(s): {report.summary()}")


@catalog.command()
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to FILE."
)
@click.pass_obj
def export(settings: Settings, output: Path | None) -> None:
    """Write the database's catalog as YAML (stdout by default); loading it back changes nothing."""
    exported = _with_session(settings, export_catalog)
    data = dump_catalog(exported)
    if output is None:
        click.echo(data.decode(), nl=False)
        return
    partial = output.with_name(output.name + ".partial")
    try:
        partial.write_bytes(data)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from exc
    click.echo(f"exported {_counts(exported)} to {output}", err=True)


@catalog.command()
@click.pass_obj
def show(settings: Settings) -> None:
    """Print what the database holds: licenses and what each allows, models, adapters, runners."""
    click.echo(render_catalog(_with_session(settings, read_catalog)))


def _with_session(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(settings.database_url)
        try:
            async with session_factory(engine)() as session:
                return await work(session)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except CatalogError as exc:
        _fail(exc)
    except SQLAlchemyError as exc:
        message = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        raise click.ClickException(
            f"database error: {message.splitlines()[0]} (is it migrated? run `clearance db upgrade`)"
        ) from exc


def _fail(error: CatalogError) -> NoReturn:
    for issue in error.issues:
        click.echo(f"error: {issue}", err=True)
    raise SystemExit(1)


def _counts(catalog: Catalog) -> str:
    sections = ("licenses", "artifacts", "tenants", "agreements", "runners")
    return ", ".join(f"{len(getattr(catalog, s))} {s}" for s in sections)
