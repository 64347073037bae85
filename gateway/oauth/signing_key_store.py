"""Signing keys in the database: create, rotate, load (decrypting the private halves)."""

from __future__ import annotations

import datetime as dt
import json

from joserfc.jwk import ECKey
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.oauth.key_sealing import KeySealer
from gateway.oauth.keyring import SIGNING_ALGORITHM, SigningKey
from registry.identity.signing_keys import SigningKeyRecord


async def load_signing_keys(session: AsyncSession, sealer: KeySealer, now: dt.datetime) -> list[SigningKey]:
    """Every key still usable at `now`: the active one and retired ones whose tokens may live."""
    rows = await session.scalars(
        select(SigningKeyRecord).where(
            or_(SigningKeyRecord.not_after.is_(None), SigningKeyRecord.not_after > now)
        )
    )
    return [_to_signing_key(row, sealer) for row in rows]


async def ensure_active_key(session: AsyncSession, sealer: KeySealer, now: dt.datetime) -> None:
    """Create the first key on a fresh database; commit."""
    active = await session.scalar(
        select(SigningKeyRecord.kid).where(SigningKeyRecord.retired_at.is_(None)).limit(1)
    )
    if active is None:
        session.add(_new_record(sealer, now))
        await session.commit()


async def rotate_signing_key(
    session: AsyncSession, sealer: KeySealer, now: dt.datetime, token_lifetime: dt.timedelta
) -> str:
    """Retire the active key(s) and create a new one; commit; return the new kid.

    A retired key stays published and accepted until the last token it signed has expired
    (`not_after` = now + token lifetime), then it disappears.
    """
    active = await session.scalars(
        select(SigningKeyRecord).where(SigningKeyRecord.retired_at.is_(None)).with_for_update()
    )
    for row in active:
        row.retired_at = now
        row.not_after = now + token_lifetime
    record = _new_record(sealer, now)
    session.add(record)
    await session.commit()
    return record.kid


def _new_record(sealer: KeySealer, now: dt.datetime) -> SigningKeyRecord:
    key = ECKey.generate_key("P-256", auto_kid=True)
    kid = key.kid
    assert kid is not None
    public_jwk = {**key.as_dict(private=False), "use": "sig", "alg": SIGNING_ALGORITHM}
    sealed = sealer.seal(json.dumps(key.as_dict(private=True)).encode(), kid)
    return SigningKeyRecord(
        kid=kid,
        algorithm=SIGNING_ALGORITHM,
        public_jwk=public_jwk,
        private_jwk_sealed=sealed,
        created_at=now,
        retired_at=None,
        not_after=None,
    )


def _to_signing_key(row: SigningKeyRecord, sealer: KeySealer) -> SigningKey:
    private = ECKey.import_key(json.loads(sealer.unseal(row.private_jwk_sealed, row.kid)))
    public = ECKey.import_key(private.as_dict(private=False))
    return SigningKey(
        kid=row.kid,
        private_key=private,
        public_key=public,
        public_jwk=dict(row.public_jwk),
        created_at=row.created_at,
        retired_at=row.retired_at,
        not_after=row.not_after,
    )
