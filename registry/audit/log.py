"""`AuditLog`: the group-committing appender.

Concurrent `append` calls queue their events; one writer task takes everything queued so far and
appends it in ONE transaction (one lock, one head read, one multi-row INSERT, one commit, hence
one fsync). While that commit is in flight the next batch gathers, so throughput grows with load.
Every caller is answered only after the commit that holds its event returned: an acknowledged
event is durable.

Checkpoints are signed inside the same transaction as the batch that makes them due: after
`checkpoint_every` events, or when `checkpoint_interval_s` has passed with events unsigned.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from types import TracebackType

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from registry.audit.batch_writers import BatchWriter, batch_writer_for
from registry.audit.chain import Clock, lock_chain, read_head, utc_now
from registry.audit.checkpoints import Checkpoint, sign_checkpoint, store_checkpoint, stored_checkpoints
from registry.audit.errors import AuditLogClosedError
from registry.audit.events import AppendedEvent, NewEvent
from registry.audit.hashing import canonical_payload
from registry.audit.signing import CheckpointSigner


class _Pending(msgspec.Struct):
    events: list[NewEvent]
    answer: asyncio.Future[list[AppendedEvent]]


_TICK = object()
_STOP = object()


class AuditLog:
    """Use one per process and engine: `async with AuditLog(engine, signer=...) as audit:`.

    `engine` should come from `registry.db.engine.create_engine` (SQLite: WAL, synchronous=FULL).
    While started, the log keeps one connection of its own: a pooled one on PostgreSQL, a plain
    `sqlite3` one in its writer thread on SQLite (see `registry.audit.batch_writers`).
    """

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        signer: CheckpointSigner | None = None,
        checkpoint_every: int = 10_000,
        checkpoint_interval_s: float = 60.0,
        max_batch: int = 4096,
        clock: Clock = utc_now,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval_s = checkpoint_interval_s
        self.max_batch = max_batch
        self.clock = clock
        self.last_checkpoint: Checkpoint | None = None
        self._queue: asyncio.Queue[_Pending | object] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None
        self._batches: BatchWriter | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._last_checkpoint_at = time.monotonic()
        self._head_seq = 0
        self._closing = False

    async def __aenter__(self) -> AuditLog:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def start(self) -> None:
        if self._writer is not None:
            return
        async with self.engine.connect() as connection:
            self._head_seq = (await read_head(connection)).seq
            if self.signer is not None:
                newest = await stored_checkpoints(connection, newest_first=True)
                self.last_checkpoint = newest[0] if newest else None
        self._closing = False
        self._batches = batch_writer_for(self.engine, self.clock)
        self._writer = asyncio.create_task(self._write_batches(), name="audit-log-writer")
        if self.signer is not None:
            self._ticker = asyncio.create_task(self._tick(), name="audit-log-checkpoint-timer")

    async def close(self) -> None:
        """Append what is queued, sign a final checkpoint if events are unsigned, stop."""
        if self._writer is None:
            return
        self._closing = True
        if self._ticker is not None:
            self._ticker.cancel()
            await asyncio.gather(self._ticker, return_exceptions=True)
            self._ticker = None
        self._queue.put_nowait(_STOP)
        await self._writer
        self._writer = None
        if self._batches is not None:
            await self._batches.close()
            self._batches = None
        if self.signer is not None and self._unsigned_events() > 0:
            await self.checkpoint()

    async def append(self, event: NewEvent) -> AppendedEvent:
        """Append one event; returns once it is committed, with its sequence number and hashes."""
        return (await self.append_many([event]))[0]

    async def append_many(self, events: Sequence[NewEvent]) -> list[AppendedEvent]:
        """Append events with consecutive sequence numbers, committed together."""
        if self._writer is None or self._closing:
            raise AuditLogClosedError("the audit log is not started (use `async with AuditLog(...)`)")
        if self._writer.done():
            raise AuditLogClosedError("the audit log's writer stopped; restart the log")
        if not events:
            return []
        # Encode now, in the caller's task: a bad payload fails its own caller, not the batch.
        prepared = [
            msgspec.structs.replace(event, payload=msgspec.Raw(canonical_payload(event.payload)))
            for event in events
        ]
        answer: asyncio.Future[list[AppendedEvent]] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(prepared, answer))
        return await answer

    async def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (None without a signer or on an empty chain)."""
        if self.signer is None:
            return None
        async with self.engine.begin() as connection:
            await lock_chain(connection)
            head = await read_head(connection)
            if head.seq == 0:
                return None
            return await self._sign(connection, head.seq, head.chain_hash)

    async def _write_batches(self) -> None:
        stopping = False
        while not stopping:
            item = await self._queue.get()
            batch: list[_Pending] = []
            count = 0
            tick = False
            while True:
                if item is _STOP:
                    stopping = True
                elif item is _TICK:
                    tick = True
                else:
                    assert isinstance(item, _Pending)
                    batch.append(item)
                    count += len(item.events)
                if stopping or count >= self.max_batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if batch:
                await self._commit(batch)
            elif tick and self._checkpoint_due():
                await self.checkpoint()

    async def _commit(self, batch: list[_Pending]) -> None:
        assert self._batches is not None
        events = [event for pending in batch for event in pending.events]
        try:
            appended, checkpoint = await self._batches.write(events, self._checkpoint_for)
        except Exception as exc:  # every waiting caller gets the failure
            for pending in batch:
                if not pending.answer.done():
                    pending.answer.set_exception(exc)
            return
        self._head_seq = appended[-1].seq
        if checkpoint is not None:
            self.last_checkpoint = checkpoint
            self._last_checkpoint_at = time.monotonic()
        start = 0
        for pending in batch:
            end = start + len(pending.events)
            if not pending.answer.done():
                pending.answer.set_result(appended[start:end])
            start = end

    def _checkpoint_for(self, seq: int, chain_hash: bytes) -> Checkpoint | None:
        """Runs inside the batch's transaction (on SQLite, in the writer thread)."""
        if self.signer is None or not self._checkpoint_due(seq):
            return None
        return sign_checkpoint(self.signer, seq, chain_hash, self.clock())

    async def _sign(self, connection: AsyncConnection, seq: int, chain_hash: bytes) -> Checkpoint:
        assert self.signer is not None
        checkpoint = sign_checkpoint(self.signer, seq, chain_hash, self.clock())
        await store_checkpoint(connection, checkpoint)
        self.last_checkpoint = checkpoint
        self._last_checkpoint_at = time.monotonic()
        return checkpoint

    def _unsigned_events(self, head_seq: int | None = None) -> int:
        signed = self.last_checkpoint.sequence if self.last_checkpoint is not None else 0
        return (self._head_seq if head_seq is None else head_seq) - signed

    def _checkpoint_due(self, head_seq: int | None = None) -> bool:
        if self.signer is None:
            return False
        unsigned = self._unsigned_events(head_seq)
        if unsigned <= 0:
            return False
        waited = time.monotonic() - self._last_checkpoint_at
        return unsigned >= self.checkpoint_every or waited >= self.checkpoint_interval_s

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(self.checkpoint_interval_s)
            self._queue.put_nowait(_TICK)
