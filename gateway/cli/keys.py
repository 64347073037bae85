"""`clearance keys rotate|list`: the keys that sign access tokens."""

from __future__ import annotations

import asyncio
import datetime as dt

import click

from gateway.oauth.key_sealing import KeySealer
from gateway.oauth.pepper import load_pepper
from gateway.oauth.signing_key_store import rotate_signing_key
from gateway.settings import Settings
from registry.db.engine import create_engine, session_factory
from registry.identity.signing_keys import SigningKeyRecord


@click.group()
def keys() -> None:
    """Token signing keys."""


@keys.command()
@click.pass_obj
def rotate(settings: Settings) -> None:
    """Start signing with a new key. The old one stays published and accepted until the tokens
    it signed have expired; running servers pick the new key up within CLEARANCE_STATE_SYNC_SECONDS."""
    kid = asyncio.run(_rotate(settings))
    click.echo(f"new signing key {kid}")


@keys.command(name="list")
@click.pass_obj
def list_keys(settings: Settings) -> None:
    """Every stored key: kid, created, retired, not after."""
    for row in asyncio.run(_rows(settings)):
        click.echo(
            f"{row.kid}  {row.algorithm}  created {row.created_at.isoformat()}  "
            f"retired {row.retired_at.isoformat() if row.retired_at else '-'}  "
            f"not_after {row.not_after.isoformat() if row.not_after else '-'}"
        )


async def _rotate(settings: Settings) -> str:
    sealer = KeySealer(load_pepper(settings))
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return await rotate_signing_key(
                session,
                sealer,
                dt.datetime.now(dt.UTC),
                dt.timedelta(seconds=settings.token_lifetime_seconds + settings.clock_leeway_seconds),
            )
    finally:
        await engine.dispose()


async def _rows(settings: Settings) -> list[SigningKeyRecord]:
    from sqlalchemy import select

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            return list(await session.scalars(select(SigningKeyRecord).order_by(SigningKeyRecord.created_at)))
    finally:
        await engine.dispose()
