"""OAuth clients: who may ask for tokens, for which tenant and with which scopes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base, JsonDocument, UtcDateTime


class OAuthClientRecord(Base):
    __tablename__ = "oauth_clients"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    """The tenant every token of this client acts for; never taken from a request."""
    name: Mapped[str] = mapped_column(String(200), default="")
    secret_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    """Peppered HMAC-SHA256 of the secret (hex); None for clients that only use private_key_jwt."""
    previous_secret_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    """The secret a rotation replaced, still accepted until `previous_secret_until`."""
    previous_secret_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    public_jwk: Mapped[dict[str, Any] | None] = mapped_column(JsonDocument, default=None)
    """The client's public key for `private_key_jwt` (RFC 7523), a JWK without private members."""
    scopes: Mapped[list[str]] = mapped_column(JsonDocument, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
