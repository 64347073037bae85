"""Where failed client authentications are reported.

An interface so the audit log (registry.audit) can be plugged in without the OAuth code
knowing it; until then they go to the log.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

log = logging.getLogger("clearance.auth")


class AuthEventRecorder(Protocol):
    async def failed_client_authentication(
        self, *, client_id: str | None, address: str | None, reason: str, at: dt.datetime
    ) -> None: ...


class LoggingAuthEventRecorder:
    def __init__(self) -> None:
        self.recorded = 0

    async def failed_client_authentication(
        self, *, client_id: str | None, address: str | None, reason: str, at: dt.datetime
    ) -> None:
        self.recorded += 1
        log.warning(
            "failed client authentication: client_id=%r address=%r reason=%s at=%s",
            client_id,
            address,
            reason,
            at.isoformat(),
        )
