"""What the `clearance audit` commands share: running a coroutine on the database and choosing
the key a verification trusts."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.settings import Settings
from registry.audit import AuditError, Checkpoint, load_verifier, read_public_key
from registry.audit.signing import CheckpointVerifier
from registry.db.engine import create_engine

T = TypeVar("T")

public_key_option = click.option(
    "--public-key",
    "public_key",
    type=click.Path(dir_okay=False, path_type=Path),
    help="PEM public key to trust (default: the data directory's published key).",
)


class CouldNotVerifyError(click.ClickException):
    """Verification did not run (no key, unreadable file, database unreachable): exit 2, so that
    exit 1 always means tampering was found."""

    exit_code = 2


def run_on_engine(
    settings: Settings,
    work: Callable[[AsyncEngine], Awaitable[T]],
    failure: type[click.ClickException] = click.ClickException,
) -> T:
    async def main() -> T:
        engine = create_engine(settings.database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(main())
    except AuditError as exc:
        raise failure(str(exc)) from exc
    except BrokenPipeError:
        raise  # the reader of the output went away, not the database: the CLI stops quietly
    except (SQLAlchemyError, OSError) as exc:
        raise failure(f"database {settings.database_url!r}: {exc}") from exc


def trusted_verifier(
    settings: Settings, public_key: Path | None, checkpoint: Checkpoint | None
) -> CheckpointVerifier | None:
    """The key checkpoints must be signed with: `public_key`, else the data directory's
    published key; None when there is none and no checkpoint needs one."""
    try:
        if public_key is not None:
            return read_public_key(public_key)
        try:
            return load_verifier(settings.data_dir)
        except AuditError:
            if checkpoint is not None:
                raise
            return None
    except AuditError as exc:
        raise CouldNotVerifyError(str(exc)) from exc
