"""The signing keys this process knows, in memory, swapped as a whole on reload.

Validation reads parsed keys from here on every request without touching the database.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from joserfc.jwk import ECKey

SIGNING_ALGORITHM = "ES256"


class NoSigningKeyError(RuntimeError):
    """No active signing key is loaded yet (database unreachable at start-up)."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    kid: str
    private_key: ECKey
    public_key: ECKey
    public_jwk: dict[str, Any]
    created_at: dt.datetime
    retired_at: dt.datetime | None
    not_after: dt.datetime | None


@dataclass(frozen=True, slots=True)
class _Snapshot:
    active: SigningKey | None
    by_kid: dict[str, SigningKey]


class SigningKeyring:
    def __init__(self) -> None:
        self._snapshot = _Snapshot(active=None, by_kid={})

    def replace(self, keys: list[SigningKey]) -> None:
        active = [key for key in keys if key.retired_at is None]
        newest = max(active, key=lambda key: key.created_at, default=None)
        self._snapshot = _Snapshot(active=newest, by_kid={key.kid: key for key in keys})

    @property
    def loaded(self) -> bool:
        return self._snapshot.active is not None

    def active(self) -> SigningKey:
        key = self._snapshot.active
        if key is None:
            raise NoSigningKeyError("no active signing key loaded")
        return key

    def verification_key(self, kid: str, now: float) -> ECKey | None:
        key = self._snapshot.by_kid.get(kid)
        if key is None or (key.not_after is not None and now >= key.not_after.timestamp()):
            return None
        return key.public_key

    def published(self, now: float) -> list[dict[str, Any]]:
        """Public JWKs of every key whose tokens may still be alive, newest first."""
        keys = sorted(self._snapshot.by_kid.values(), key=lambda key: key.created_at, reverse=True)
        return [key.public_jwk for key in keys if key.not_after is None or now < key.not_after.timestamp()]
