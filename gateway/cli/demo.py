"""`clearance demo [--host] [--port] [--data-dir]`: set up a demo gateway and serve it.

Idempotent: migrates the SQLite database in the data directory, builds the tiny models once
(reused while their sha256 pins hold), loads the built-in catalog and the demo's site catalog
(unchanged entries stay unchanged, audited as a catalog load), then gives each demo tenant a
fresh OAuth client: secrets are stored hashed, so a re-run disables the previous demo clients
and writes the new secrets to `demo-credentials.json`. Then it prints copy-paste commands and
serves until Ctrl-C. See docs/demo.md.
"""

from __future__ import annotations

import asyncio
import shlex
import sys
from pathlib import Path

import click

from gateway.settings import Settings, SettingsError


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Data directory (default: the group's, i.e. .clearance or CLEARANCE_DATA_DIR).",
)
@click.pass_context
def demo(ctx: click.Context, host: str, port: int, data_dir: Path | None) -> None:
    """Set up the demo (database, tiny models, tenants, clients) and serve the gateway."""
    import uvicorn

    from gateway.cli.serve import uvicorn_config
    from gateway.demo.setup import set_up_demo
    from gateway.demo.walkthrough import render

    group: Settings = ctx.obj
    explicit_url = ctx.parent.params.get("database_url") if ctx.parent is not None else None
    public_host = "localhost" if host in ("0.0.0.0", "::") else host  # noqa: S104 - names, not a bind
    base_url = f"http://{public_host}:{port}"
    try:
        settings = Settings.from_env(
            data_dir=str(data_dir or group.data_dir),
            database_url=explicit_url,
            issuer=base_url,
        )
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from exc
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    click.echo(f"data directory: {settings.data_dir.resolve()}  database: {settings.database_url}")
    prepared = asyncio.run(set_up_demo(settings, base_url, echo=click.echo))
    audit_cli = shlex.join(
        [
            str(Path(sys.argv[0]).resolve()) if Path(sys.argv[0]).name == "clearance" else "clearance",
            "--data-dir",
            str(settings.data_dir.resolve()),
            "--database-url",
            settings.database_url,
            "audit",
        ]
    )
    click.echo(render(base_url, prepared.clients, str(prepared.credentials_path), audit_cli))
    uvicorn.Server(uvicorn_config(settings, host, port, access_log=False)).run()
