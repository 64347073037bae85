"""Export events as JSON Lines or CSV, for auditors and for archiving before a retention purge."""

from __future__ import annotations

import csv
import datetime as dt
from typing import Any, Literal, TextIO

import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit.events import AppendedEvent
from registry.audit.hashing import timestamp_text
from registry.audit.query import MAX_PAGE, EventQuery, iterate_events

ExportFormat = Literal["jsonl", "csv"]
CSV_COLUMNS = (
    "seq",
    "recorded_at",
    "kind",
    "actor_subject",
    "client_id",
    "tenant",
    "request_id",
    "decision_id",
    "job_id",
    "payload",
    "leaf_hash",
    "chain_hash",
)


def event_record(event: AppendedEvent) -> dict[str, Any]:
    """The exported shape: hashes in hex, time as in the leaf encoding, payload as JSON."""
    return {
        "seq": event.seq,
        "recorded_at": timestamp_text(event.recorded_at),
        "kind": event.kind,
        "actor_subject": event.actor_subject,
        "client_id": event.client_id,
        "tenant": event.tenant,
        "request_id": event.request_id,
        "decision_id": event.decision_id,
        "job_id": event.job_id,
        "payload": msgspec.Raw(event.payload),
        "leaf_hash": event.leaf_hash.hex(),
        "chain_hash": event.chain_hash.hex(),
    }


async def export_events(
    engine: AsyncEngine,
    out: TextIO,
    *,
    fmt: ExportFormat = "jsonl",
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    tenant: str | None = None,
    kind: str | None = None,
) -> int:
    """Write the matching events in sequence order; returns how many were written."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"unknown export format {fmt!r} (jsonl or csv)")
    query = EventQuery(since=since, until=until, tenant=tenant, kind=kind, limit=MAX_PAGE)
    encoder = msgspec.json.Encoder()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS) if fmt == "csv" else None
    if writer is not None:
        writer.writeheader()
    written = 0
    async with engine.connect() as connection:
        async for event in iterate_events(connection, query):
            record = event_record(event)
            if writer is None:
                out.write(encoder.encode(record).decode())
                out.write("\n")
            else:
                record["payload"] = event.payload
                writer.writerow(record)
            written += 1
    return written
