"""Ids (`jti`) of access tokens revoked before they expire (RFC 7009).

Rows are only needed until the token's own expiry; after that the token is rejected anyway.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base, UtcDateTime


class RevokedTokenRecord(Base):
    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    revoked_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
