"""Reading the log: filters (tenant, kind, time range, ids) and cursor pagination by sequence.

The cursor is opaque to clients; it carries the last sequence number of the page, so pages stay
stable while new events are appended (keyset pagination, no OFFSET).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from registry.audit.errors import AuditError
from registry.audit.events import AppendedEvent
from registry.audit.tables import AuditEventRow

MAX_PAGE = 1000


class InvalidCursorError(AuditError):
    """A pagination cursor that this API did not hand out."""


class EventQuery(msgspec.Struct, kw_only=True, frozen=True):
    tenant: str | None = None
    kind: str | None = None
    since: dt.datetime | None = None
    """Inclusive."""
    until: dt.datetime | None = None
    """Exclusive."""
    actor_subject: str | None = None
    client_id: str | None = None
    request_id: str | None = None
    decision_id: str | None = None
    job_id: str | None = None
    cursor: str | None = None
    limit: int = 100
    newest_first: bool = False


class EventPage(msgspec.Struct, kw_only=True, frozen=True):
    events: list[AppendedEvent]
    next_cursor: str | None
    """None on the last page."""


_COLUMNS = (
    AuditEventRow.seq,
    AuditEventRow.recorded_at,
    AuditEventRow.kind,
    AuditEventRow.actor_subject,
    AuditEventRow.client_id,
    AuditEventRow.tenant,
    AuditEventRow.request_id,
    AuditEventRow.decision_id,
    AuditEventRow.job_id,
    AuditEventRow.payload,
    AuditEventRow.leaf_hash,
    AuditEventRow.chain_hash,
)


def encode_cursor(seq: int) -> str:
    return f"s{seq}"


def decode_cursor(cursor: str) -> int:
    if not cursor.startswith("s") or not cursor[1:].isdigit():
        raise InvalidCursorError(f"invalid audit cursor {cursor!r}")
    return int(cursor[1:])


def _statement(query: EventQuery) -> Select[*tuple[Any, ...]]:
    if not 1 <= query.limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}, not {query.limit}")
    statement = select(*_COLUMNS)
    for column, value in (
        (AuditEventRow.tenant, query.tenant),
        (AuditEventRow.kind, query.kind),
        (AuditEventRow.actor_subject, query.actor_subject),
        (AuditEventRow.client_id, query.client_id),
        (AuditEventRow.request_id, query.request_id),
        (AuditEventRow.decision_id, query.decision_id),
        (AuditEventRow.job_id, query.job_id),
    ):
        if value is not None:
            statement = statement.where(column == value)
    if query.since is not None:
        statement = statement.where(AuditEventRow.recorded_at >= query.since)
    if query.until is not None:
        statement = statement.where(AuditEventRow.recorded_at < query.until)
    if query.cursor is not None:
        after = decode_cursor(query.cursor)
        statement = statement.where(
            AuditEventRow.seq < after if query.newest_first else AuditEventRow.seq > after
        )
    order = AuditEventRow.seq.desc() if query.newest_first else AuditEventRow.seq
    return statement.order_by(order).limit(query.limit + 1)


async def query_events(db: AsyncConnection | AsyncSession, query: EventQuery) -> EventPage:
    rows = (await db.execute(_statement(query))).all()
    events = [_event(row) for row in rows[: query.limit]]
    more = len(rows) > query.limit
    return EventPage(events=events, next_cursor=encode_cursor(events[-1].seq) if more else None)


async def iterate_events(
    db: AsyncConnection | AsyncSession, query: EventQuery, first: EventPage | None = None
) -> AsyncIterator[AppendedEvent]:
    """Every matching event, page after page (export, usage summaries); `first`: the query's
    first page, already read."""
    while True:
        page = first if first is not None else await query_events(db, query)
        first = None
        for event in page.events:
            yield event
        if page.next_cursor is None:
            return
        query = msgspec.structs.replace(query, cursor=page.next_cursor)


def _event(row: Any) -> AppendedEvent:
    return AppendedEvent(
        seq=row.seq,
        recorded_at=row.recorded_at,
        kind=row.kind,
        actor_subject=row.actor_subject,
        client_id=row.client_id,
        tenant=row.tenant,
        request_id=row.request_id,
        decision_id=row.decision_id,
        job_id=row.job_id,
        payload=row.payload,
        leaf_hash=bytes(row.leaf_hash),
        chain_hash=bytes(row.chain_hash),
    )
