"""Keys that sign the gateway's access tokens.

They live in the database rather than a file in the data directory so that every gateway
process (several replicas on one PostgreSQL) sees a rotation at once, without copying files.
The private key is stored encrypted (AES-GCM under a key derived from the server pepper), so a
database dump alone cannot forge tokens.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base, JsonDocument, UtcDateTime


class SigningKeyRecord(Base):
    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(String(100), primary_key=True)
    algorithm: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JsonDocument)
    private_jwk_sealed: Mapped[str] = mapped_column(Text)
    """Base64url of nonce + AES-GCM ciphertext of the private JWK (JSON)."""
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    """When a newer key took over signing; None for the active key."""
    not_after: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    """After this instant the key is neither published nor accepted (its last token expired)."""
