"""What callers hand to the audit log (`NewEvent`) and what it gives back (`AppendedEvent`)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

import msgspec


class EventKind(StrEnum):
    """Kinds the project emits. The column is free text, so new kinds need no migration."""

    POLICY_DECISION = "policy.decision"
    JOB_OUTCOME = "job.outcome"
    JOB_REQUEUED = "job.requeued"
    ADMIN_CHANGE = "admin.change"
    CATALOG_LOAD = "catalog.load"
    AUTH_FAILURE = "auth.failure"
    USAGE_REPORT = "usage.report"
    RETENTION_PURGE = "retention.purge"
    JOB_ERASED = "job.erased"


class NewEvent(msgspec.Struct, kw_only=True, frozen=True):
    """An event to append. There is no timestamp: the appender's clock stamps it under the lock."""

    kind: str
    payload: Any = msgspec.field(default_factory=dict)
    """Any msgspec-encodable value; stored as canonical JSON (sorted keys, no whitespace)."""
    actor_subject: str | None = None
    client_id: str | None = None
    tenant: str | None = None
    request_id: str | None = None
    decision_id: str | None = None
    job_id: str | None = None


class AppendedEvent(msgspec.Struct, kw_only=True, frozen=True):
    """A durable event of the chain, as stored (payload is the canonical JSON text)."""

    seq: int
    recorded_at: dt.datetime
    kind: str
    actor_subject: str | None
    client_id: str | None
    tenant: str | None
    request_id: str | None
    decision_id: str | None
    job_id: str | None
    payload: str
    leaf_hash: bytes
    chain_hash: bytes

    def payload_value(self) -> Any:
        return msgspec.json.decode(self.payload)


EVENT_COLUMNS: tuple[str, ...] = AppendedEvent.__struct_fields__
"""The `audit_events` columns an appender writes, in the order of `AppendedEvent`'s fields."""


def event_row(event: AppendedEvent) -> tuple[Any, ...]:
    """The values for `EVENT_COLUMNS`, as a bulk insert or COPY takes them."""
    return msgspec.structs.astuple(event)
