"""Client assertions (RFC 7523 `private_key_jwt`) already used, by client and `jti`, so that
each authenticates one request across every gateway process sharing the database.

Rows are only needed until the assertion expires (plus the clock leeway the gateway allows on
`exp`); after that the assertion is refused for being expired anyway, and the rows are deleted.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base, UtcDateTime

MAX_JTI_LENGTH = 255


class UsedClientAssertionRecord(Base):
    __tablename__ = "used_client_assertions"

    client_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    jti: Mapped[str] = mapped_column(String(MAX_JTI_LENGTH), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    """When a replay would be refused for being expired anyway: `exp` plus the clock leeway."""
