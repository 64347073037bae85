"""Instants from query parameters, as the UTC datetimes the database stores and compares.

An instant at the edge of the calendar (`0001-01-01T00:00:00+05:00`, `9999-12-31T23:59-23:00`)
parses, but its UTC form falls outside years 1-9999 and cannot be bound to a query: it is refused
here, naming the parameter, instead of failing inside the database layer."""

from __future__ import annotations

import datetime as dt

from gateway.api.errors import InvalidQueryError


def utc_instant(name: str, value: dt.datetime | None) -> dt.datetime | None:
    """`value` in UTC; `InvalidQueryError` naming `name` when it has no zone or no UTC form."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidQueryError(f"{name}: give a time zone (e.g. 2026-01-01T00:00:00Z)")
    try:
        return value.astimezone(dt.UTC)
    except OverflowError as exc:
        raise InvalidQueryError(f"{name}: {value.isoformat()} is outside the years 1-9999 in UTC") from exc
