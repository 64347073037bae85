"""Where failed client authentications are reported: the audit log when it is running,
the application log otherwise (database down at start-up)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Protocol

from registry.audit import AuditError, AuditLog, EventKind, NewEvent

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


class AuditLogAuthEventRecorder:
    """Appends `auth.failure` events to the hash-chained audit log."""

    def __init__(self, audit_log: AuditLog) -> None:
        self._audit_log = audit_log

    async def failed_client_authentication(
        self, *, client_id: str | None, address: str | None, reason: str, at: dt.datetime
    ) -> None:
        event = NewEvent(
            kind=EventKind.AUTH_FAILURE,
            client_id=client_id,
            payload={"reason": reason, "address": address, "observed_at": at.isoformat()},
        )
        try:
            await self._audit_log.append(event)
        except (AuditError, OSError) as exc:  # the request fails anyway; keep the trace in the log
            log.error("could not audit failed client authentication of %r: %s", client_id, exc)
