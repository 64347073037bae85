"""Appending to the chain inside one transaction: lock, read the head, hash, insert.

The lock makes appends one writer at a time per chain, across processes too:
- PostgreSQL: `pg_advisory_xact_lock`, released by the transaction's commit or rollback;
- SQLite: a no-op write as the transaction's first chain statement, which takes the database's
  single write lock (the driver's implicit BEGIN is deferred) before the head is read.
Reading the head only after taking the lock is what keeps the chain from forking; the primary key
on `seq` is the second line of defence.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import msgspec
from sqlalchemy import insert, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from registry.audit.errors import UnsupportedDatabaseError
from registry.audit.events import AppendedEvent, NewEvent
from registry.audit.hashing import (
    GENESIS_CHAIN_HASH,
    canonical_payload,
    chain_hash,
    event_encoding,
    leaf_hash,
    timestamp_text,
)
from registry.audit.tables import AuditAnchorRow, AuditEventRow

CHAIN_LOCK_KEY = 0x636C_6561_7241_7564  # "clearAud": the advisory lock id of the audit chain
_SQLITE_TAKE_WRITE_LOCK = text("DELETE FROM audit_purge_clearances WHERE 0")

Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class ChainHead(msgspec.Struct, frozen=True):
    """The last event of the chain (or the anchor after a purge, or genesis: seq 0)."""

    seq: int
    chain_hash: bytes
    recorded_at: dt.datetime | None


async def lock_chain(connection: AsyncConnection) -> None:
    """Wait for the chain's writer lock; held until the surrounding transaction ends."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK_KEY})
    elif dialect == "sqlite":
        await connection.execute(_SQLITE_TAKE_WRITE_LOCK)
    else:
        raise UnsupportedDatabaseError(f"the audit log supports PostgreSQL and SQLite, not {dialect}")


_HEAD = (
    select(AuditEventRow.seq, AuditEventRow.chain_hash, AuditEventRow.recorded_at)
    .order_by(AuditEventRow.seq.desc())
    .limit(1)
)
_ANCHOR = (
    select(AuditAnchorRow.seq, AuditAnchorRow.chain_hash, AuditAnchorRow.signed_at)
    .order_by(AuditAnchorRow.id.desc())
    .limit(1)
)
_INSERT_EVENTS = insert(AuditEventRow)
"""Built once: SQLAlchemy reuses their compiled form instead of rebuilding them per batch."""


async def read_head(connection: AsyncConnection) -> ChainHead:
    last = (await connection.execute(_HEAD)).first()
    if last is not None:
        return ChainHead(last.seq, bytes(last.chain_hash), last.recorded_at)
    anchor = (await connection.execute(_ANCHOR)).first()
    if anchor is not None:
        return ChainHead(anchor.seq, bytes(anchor.chain_hash), anchor.signed_at)
    return ChainHead(0, GENESIS_CHAIN_HASH, None)


def chain_events(head: ChainHead, events: Sequence[NewEvent], now: dt.datetime) -> list[AppendedEvent]:
    """Number, stamp and hash `events` after `head`. Time never runs backwards along the chain."""
    recorded_at = now if head.recorded_at is None or now >= head.recorded_at else head.recorded_at
    stamp = timestamp_text(recorded_at)
    previous = head.chain_hash
    seq = head.seq
    chained: list[AppendedEvent] = []
    for event in events:
        seq += 1
        payload = canonical_payload(event.payload)
        leaf = leaf_hash(
            event_encoding(
                seq,
                stamp,
                event.kind,
                event.actor_subject,
                event.client_id,
                event.tenant,
                event.request_id,
                event.decision_id,
                event.job_id,
                payload,
            )
        )
        previous = chain_hash(previous, leaf)
        chained.append(
            AppendedEvent(
                seq=seq,
                recorded_at=recorded_at,
                kind=event.kind,
                actor_subject=event.actor_subject,
                client_id=event.client_id,
                tenant=event.tenant,
                request_id=event.request_id,
                decision_id=event.decision_id,
                job_id=event.job_id,
                payload=payload,
                leaf_hash=leaf,
                chain_hash=previous,
            )
        )
    return chained


async def append_on_connection(
    connection: AsyncConnection, events: Sequence[NewEvent], *, clock: Clock = utc_now
) -> list[AppendedEvent]:
    """Append inside the connection's current transaction; durable once the caller commits."""
    if not events:
        return []
    await lock_chain(connection)
    head = await read_head(connection)
    chained = chain_events(head, events, clock())
    await connection.execute(_INSERT_EVENTS, [_row(event) for event in chained])
    return chained


async def append_in_session(
    session: AsyncSession, events: Sequence[NewEvent], *, clock: Clock = utc_now
) -> list[AppendedEvent]:
    """Append `events` in the caller's transaction, so they commit (or roll back) with its rows.

    Call it as the last statement before `commit()`: from here until the commit the chain lock is
    held and every other appender waits. Nothing is durable, and the returned sequence numbers
    are not final, until the caller's commit succeeds.
    """
    connection = await session.connection()
    return await append_on_connection(connection, events, clock=clock)


def _row(event: AppendedEvent) -> dict[str, Any]:
    return {
        "seq": event.seq,
        "recorded_at": event.recorded_at,
        "kind": event.kind,
        "actor_subject": event.actor_subject,
        "client_id": event.client_id,
        "tenant": event.tenant,
        "request_id": event.request_id,
        "decision_id": event.decision_id,
        "job_id": event.job_id,
        "payload": event.payload,
        "leaf_hash": event.leaf_hash,
        "chain_hash": event.chain_hash,
    }
