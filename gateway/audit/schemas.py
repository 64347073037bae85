"""Audit events as the API shows them, and the query parameters shared by its routes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec
from litestar.params import Parameter

from gateway.api.errors import InvalidQueryError
from gateway.api.instants import utc_instant
from registry.audit import AppendedEvent, EventQuery
from registry.audit.query import MAX_PAGE

Limit = Annotated[int, Parameter(ge=1, le=MAX_PAGE, description="Events per page.")]


class AuditEvent(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    recorded_at: dt.datetime
    kind: str
    actor_subject: str | None
    client_id: str | None
    tenant: str | None
    request_id: str | None
    decision_id: str | None
    job_id: str | None
    payload: Any
    leaf_hash: str
    """Hex; with `chain_hash`, lets an auditor check the event against an exported chain."""
    chain_hash: str


class AuditPage(msgspec.Struct, frozen=True, kw_only=True):
    events: list[AuditEvent]
    next_cursor: str | None
    """Pass as `cursor` for the next page; None on the last page."""


def audit_event(event: AppendedEvent) -> AuditEvent:
    return AuditEvent(
        seq=event.seq,
        recorded_at=event.recorded_at,
        kind=event.kind,
        actor_subject=event.actor_subject,
        client_id=event.client_id,
        tenant=event.tenant,
        request_id=event.request_id,
        decision_id=event.decision_id,
        job_id=event.job_id,
        payload=msgspec.Raw(event.payload.encode()),
        leaf_hash=event.leaf_hash.hex(),
        chain_hash=event.chain_hash.hex(),
    )


def event_query(
    *,
    tenant: str | None,
    kind: str | None,
    since: dt.datetime | None,
    until: dt.datetime | None,
    cursor: str | None,
    limit: int,
    newest_first: bool,
    **ids: str | None,
) -> EventQuery:
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQueryError(f"limit: between 1 and {MAX_PAGE}, not {limit}")
    return EventQuery(
        tenant=tenant,
        kind=kind,
        since=utc_instant("since", since),
        until=utc_instant("until", until),
        cursor=cursor,
        limit=limit,
        newest_first=newest_first,
        **ids,
    )


def month_window(month: str) -> tuple[dt.datetime, dt.datetime]:
    """`YYYY-MM` as the instants [its first, the next month's first) in UTC."""
    year, number = parse_month(month)
    since = dt.datetime(year, number, 1, tzinfo=dt.UTC)
    return since, dt.datetime(year + number // 12, number % 12 + 1, 1, tzinfo=dt.UTC)


def parse_month(month: str) -> tuple[int, int]:
    """`YYYY-MM` as (year, month)."""
    try:
        parsed = dt.datetime.strptime(month, "%Y-%m")
    except ValueError as exc:
        raise InvalidQueryError(f"month: {month!r} is not YYYY-MM") from exc
    if (parsed.year, parsed.month) == (dt.MAXYEAR, 12):  # its end, the next month, is not a date
        raise InvalidQueryError(f"month: {month!r} is after the last reportable month")
    return parsed.year, parsed.month
