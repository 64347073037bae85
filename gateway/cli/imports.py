"""`clearance import hf|civitai`: catalog entries from Hugging Face and Civitai.

The entry is resolved against the catalog the database holds, printed (declared vs recorded vs
effective license, flags), and upserted through the catalog store in one transaction unless
`--dry-run`. A refused import prints a precise error, exits non-zero and writes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import click
import msgspec
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from gateway.settings import Settings
from registry.catalog.entries import Catalog
from registry.catalog.errors import CatalogError
from registry.db.engine import create_engine, session_factory
from registry.importers import ImporterError, ImportResult, import_civitai, import_hf
from registry.importers.persist import current_catalog, persist_import
from registry.importers.report import describe_import
from registry.netguard import OutboundPolicy
from registry.netguard.policy import AllowlistEntryError

_DRY_RUN = click.option("--dry-run", is_flag=True, help="Resolve and print the entry; write nothing.")
_JSON = click.option("--json", "as_json", is_flag=True, help="Print the entry as JSON instead of text.")


@click.group(name="import")
def import_() -> None:
    """Import models and adapters with their declared and effective licenses."""


@import_.command()
@click.argument("repo", metavar="REPO_ID[@REVISION]")
@click.option("--endpoint", default=None, help="Hub endpoint (default https://huggingface.co).")
@click.option(
    "--local-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Read a local snapshot directory instead of the Hub (offline).",
)
@click.option(
    "--base",
    "bases",
    multiple=True,
    help="Base model id, replacing the card's base_model (repeatable; flagged bases_given_by_operator).",
)
@_DRY_RUN
@_JSON
@click.pass_obj
def hf(
    settings: Settings,
    repo: str,
    endpoint: str | None,
    local_dir: Path | None,
    bases: tuple[str, ...],
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import a Hugging Face repository, pinned to its commit and safetensors sha256."""

    async def importer(catalog: Catalog) -> ImportResult:
        return await asyncio.to_thread(
            import_hf, repo, catalog, endpoint=endpoint, local_dir=local_dir, bases=bases
        )

    _run(settings, importer, dry_run=dry_run, as_json=as_json)


@import_.command()
@click.argument("file_or_url")
@click.option("--version-id", type=int, default=None, help="Model version to import (default: the newest).")
@click.option(
    "--allow-host",
    "allow_hosts",
    multiple=True,
    help="Admit this host:port or CIDR although private or loopback (repeatable; adds to "
    "CLEARANCE_OUTBOUND_ALLOWLIST).",
)
@click.option("--allow-http", is_flag=True, help="Allow plain http URLs (or CLEARANCE_OUTBOUND_ALLOW_HTTP).")
@_DRY_RUN
@_JSON
@click.pass_obj
def civitai(
    settings: Settings,
    file_or_url: str,
    version_id: int | None,
    allow_hosts: tuple[str, ...],
    allow_http: bool,
    dry_run: bool,
    as_json: bool,
) -> None:
    """Import a Civitai model or model version from a saved API JSON file or a URL."""
    configured = [entry for entry in settings.outbound_allowlist.split(",") if entry.strip()]
    try:
        policy = OutboundPolicy.from_settings(
            allow_http=settings.outbound_allow_http or allow_http, allowlist=[*configured, *allow_hosts]
        )
    except AllowlistEntryError as exc:
        raise click.BadParameter(str(exc), param_hint="--allow-host") from exc

    async def importer(catalog: Catalog) -> ImportResult:
        return await import_civitai(file_or_url, catalog, policy=policy, version_id=version_id)

    _run(settings, importer, dry_run=dry_run, as_json=as_json)


def _run(
    settings: Settings,
    importer: Callable[[Catalog], Awaitable[ImportResult]],
    *,
    dry_run: bool,
    as_json: bool,
) -> None:
    async def run() -> tuple[ImportResult, str]:
        engine = create_engine(settings.database_url)
        try:
            sessions = session_factory(engine)
            result = await importer(await current_catalog(sessions))
            if dry_run:
                return result, "dry run: nothing written"
            report = await persist_import(sessions, result)
            return result, f"imported: {report.summary()}"
        finally:
            await engine.dispose()

    try:
        result, outcome = asyncio.run(run())
    except ImporterError as exc:
        raise click.ClickException(str(exc)) from exc
    except CatalogError as exc:
        for issue in exc.issues:
            click.echo(f"error: {issue}", err=True)
        raise SystemExit(1) from exc
    except SQLAlchemyError as exc:
        message = str(exc.orig) if isinstance(exc, DBAPIError) else str(exc)
        raise click.ClickException(
            f"database error: {message.splitlines()[0]} (is it migrated? run `clearance db upgrade`)"
        ) from exc
    if as_json:
        click.echo(msgspec.json.encode(result.artifact).decode())
    else:
        for line in describe_import(result):
            click.echo(line)
    click.echo(outcome, err=as_json)
