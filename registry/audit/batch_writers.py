"""How `AuditLog` commits one batch: the fewest round trips each database allows.

The batch is what makes the log fast, so it skips the ORM: on SQLite one hop to a dedicated
writer thread that owns a plain `sqlite3` connection (BEGIN IMMEDIATE, head, executemany,
COMMIT); on PostgreSQL four round trips on the pooled asyncpg connection (BEGIN + advisory lock,
head, one INSERT ... SELECT FROM unnest(...), COMMIT). Rows are written in exactly the form the
ORM writes them, so both paths (and `append_in_session`) extend the same chain.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry.audit.chain import CHAIN_LOCK_KEY, ChainHead, Clock, chain_events
from registry.audit.checkpoints import Checkpoint
from registry.audit.errors import UnsupportedDatabaseError
from registry.audit.events import AppendedEvent, NewEvent, event_row
from registry.audit.hashing import GENESIS_CHAIN_HASH, timestamp_text

CheckpointPolicy = Callable[[int, bytes], Checkpoint | None]
"""Called inside the transaction with the new head: a checkpoint to store with it, or None."""


class BatchWriter(Protocol):
    async def write(
        self, events: Sequence[NewEvent], checkpoint_for: CheckpointPolicy
    ) -> tuple[list[AppendedEvent], Checkpoint | None]: ...

    async def close(self) -> None: ...


def batch_writer_for(engine: AsyncEngine, clock: Clock) -> BatchWriter:
    dialect = engine.dialect.name
    if dialect == "sqlite":
        database = engine.url.database
        if not database or database == ":memory:":
            raise UnsupportedDatabaseError("the audit log needs a SQLite file, not an in-memory database")
        return SqliteBatchWriter(database, clock)
    if dialect == "postgresql":
        return PostgresBatchWriter(engine, clock)
    raise UnsupportedDatabaseError(f"the audit log supports PostgreSQL and SQLite, not {dialect}")


def _sqlite_datetime(moment: dt.datetime) -> str:
    """SQLAlchemy's SQLite storage form of a UTC datetime: `YYYY-MM-DD HH:MM:SS.ffffff`."""
    return timestamp_text(moment)[:-1].replace("T", " ")


def _parse_sqlite_datetime(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)


SQLITE_INSERT_EVENT = (
    "INSERT INTO audit_events (seq, recorded_at, kind, actor_subject, client_id, tenant, request_id, "
    "decision_id, job_id, payload, leaf_hash, chain_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
"""Inserts one `sqlite_event_row`; its columns are `EVENT_COLUMNS`."""


def sqlite_event_row(event: AppendedEvent) -> tuple[Any, ...]:
    """`event_row` with the time in the form SQLAlchemy stores it in SQLite, for `SQLITE_INSERT_EVENT`."""
    seq, recorded_at, *rest = event_row(event)
    return (seq, _sqlite_datetime(recorded_at), *rest)


_SQLITE_CHECKPOINT = (
    "INSERT INTO audit_checkpoints (seq, chain_hash, signed_at, key_id, signature) VALUES (?, ?, ?, ?, ?)"
)
_HEAD = "SELECT seq, chain_hash, recorded_at FROM audit_events ORDER BY seq DESC LIMIT 1"
_ANCHOR = "SELECT seq, chain_hash, signed_at FROM audit_anchors ORDER BY id DESC LIMIT 1"


class SqliteBatchWriter:
    def __init__(self, database: str, clock: Clock) -> None:
        self.database = database
        self.clock = clock
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-sqlite")
        self._db: sqlite3.Connection | None = None

    async def write(
        self, events: Sequence[NewEvent], checkpoint_for: CheckpointPolicy
    ) -> tuple[list[AppendedEvent], Checkpoint | None]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._write, events, checkpoint_for)

    async def close(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            db = sqlite3.connect(self.database, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            self._db = db
        return self._db

    def _close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _write(
        self, events: Sequence[NewEvent], checkpoint_for: CheckpointPolicy
    ) -> tuple[list[AppendedEvent], Checkpoint | None]:
        db = self._connect()
        db.execute("BEGIN IMMEDIATE")  # the chain lock: SQLite's single writer
        try:
            chained = chain_events(self.head(db), events, self.clock())
            db.executemany(SQLITE_INSERT_EVENT, [sqlite_event_row(e) for e in chained])
            checkpoint = checkpoint_for(chained[-1].seq, chained[-1].chain_hash)
            if checkpoint is not None:
                db.execute(
                    _SQLITE_CHECKPOINT,
                    (
                        checkpoint.sequence,
                        checkpoint.chain_hash_bytes,
                        _sqlite_datetime(checkpoint.signed_at),
                        checkpoint.key_id,
                        checkpoint.signature_bytes,
                    ),
                )
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise
        return chained, checkpoint

    @staticmethod
    def head(db: sqlite3.Connection) -> ChainHead:
        row = db.execute(_HEAD).fetchone() or db.execute(_ANCHOR).fetchone()
        if row is None:
            return ChainHead(0, GENESIS_CHAIN_HASH, None)
        return ChainHead(row[0], bytes(row[1]), _parse_sqlite_datetime(row[2]))


_POSTGRES_INSERT = (
    "INSERT INTO audit_events (seq, recorded_at, kind, actor_subject, client_id, tenant, request_id, "
    "decision_id, job_id, payload, leaf_hash, chain_hash) SELECT * FROM unnest("
    "$1::bigint[], $2::timestamptz[], $3::varchar[], $4::varchar[], $5::varchar[], $6::varchar[], "
    "$7::varchar[], $8::varchar[], $9::varchar[], $10::text[], $11::bytea[], $12::bytea[])"
)
_POSTGRES_CHECKPOINT = (
    "INSERT INTO audit_checkpoints (seq, chain_hash, signed_at, key_id, signature) "
    "VALUES ($1, $2, $3, $4, $5)"
)


class PostgresBatchWriter:
    """Holds one pooled connection for the log's lifetime (no checkout or ping per batch); after
    any failure it lets that connection go and takes a fresh one for the next batch."""

    def __init__(self, engine: AsyncEngine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock
        self._connection: AsyncConnection | None = None

    async def write(
        self, events: Sequence[NewEvent], checkpoint_for: CheckpointPolicy
    ) -> tuple[list[AppendedEvent], Checkpoint | None]:
        if self._connection is None:
            self._connection = await self.engine.connect()
        try:
            raw = await self._connection.get_raw_connection()
            return await self._write(raw.driver_connection, events, checkpoint_for)
        except BaseException:
            connection, self._connection = self._connection, None
            await connection.invalidate()
            raise

    async def _write(
        self, db: Any, events: Sequence[NewEvent], checkpoint_for: CheckpointPolicy
    ) -> tuple[list[AppendedEvent], Checkpoint | None]:
        # One round trip for BEGIN and the lock (simple query protocol, constant key).
        await db.execute(f"BEGIN; {POSTGRES_LOCK_CHAIN}")
        chained = await postgres_chain_and_insert(db, events, self.clock())
        checkpoint = checkpoint_for(chained[-1].seq, chained[-1].chain_hash)
        if checkpoint is not None:
            await db.execute(
                _POSTGRES_CHECKPOINT,
                checkpoint.sequence,
                checkpoint.chain_hash_bytes,
                checkpoint.signed_at,
                checkpoint.key_id,
                checkpoint.signature_bytes,
            )
        await db.execute("COMMIT")
        return chained, checkpoint

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            await connection.close()


POSTGRES_LOCK_CHAIN = f"SELECT pg_advisory_xact_lock({CHAIN_LOCK_KEY})"
"""The chain's writer lock on PostgreSQL, held until the transaction ends."""


async def postgres_chain_and_insert(
    db: Any, events: Sequence[NewEvent], now: dt.datetime
) -> list[AppendedEvent]:
    """Chain `events` after the head and insert them in one statement, on an asyncpg connection
    inside a transaction that already holds the chain lock (`POSTGRES_LOCK_CHAIN`)."""
    row = await db.fetchrow(_HEAD) or await db.fetchrow(_ANCHOR)
    head = ChainHead(row[0], bytes(row[1]), row[2]) if row else ChainHead(0, GENESIS_CHAIN_HASH, None)
    chained = chain_events(head, events, now)
    await db.execute(_POSTGRES_INSERT, *_columns(chained))
    return chained


def _columns(events: list[AppendedEvent]) -> list[list[Any]]:
    return [
        [e.seq for e in events],
        [e.recorded_at for e in events],
        [e.kind for e in events],
        [e.actor_subject for e in events],
        [e.client_id for e in events],
        [e.tenant for e in events],
        [e.request_id for e in events],
        [e.decision_id for e in events],
        [e.job_id for e in events],
        [e.payload for e in events],
        [e.leaf_hash for e in events],
        [e.chain_hash for e in events],
    ]
