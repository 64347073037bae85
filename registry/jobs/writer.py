"""`JobWriter`: group commit for the job lifecycle's durable writes.

Each job needs two durable writes on its hot path (admission: job row, quota reservation and
decision event; completion: final state, quota release, outbox and outcome event). Committed one
by one, every write pays its own transaction, fsync and turn at the audit chain's lock, so
concurrent requests queue behind each other and throughput stays flat. Here concurrent writes
queue instead; one writer task runs everything queued so far in ONE transaction, appends all
their audit events at its end (`append_in_session`, under the chain lock, once) and commits once.
Each caller is answered only after the commit that holds its work: an acknowledged write is
durable, exactly as if it had had its own transaction.

A unit of work that raises (a quota without room, a constraint) would leave its partial writes in
the shared transaction, so the whole batch is rolled back and each unit is then run in a
transaction of its own: the failing one gets its exception, the others commit. Units of work must
therefore be re-runnable: they build their statements from what they captured, not from what an
earlier run wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

import asyncpg
from sqlalchemy import Table, bindparam, insert, update
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from registry.audit import NewEvent, append_in_session
from registry.audit.chain import utc_now
from registry.db.inline_sqlite import InlineSqliteConnection
from registry.db.unreachable import database_unreachable
from registry.jobs import quota
from registry.jobs.postgres_batch import PostgresBatch
from registry.jobs.sqlite_batch import SqliteBatch, as_sqlalchemy_error
from registry.jobs.statements import Transition as Transition  # the writer's API
from registry.jobs.tables import JobRow

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class WorkContext:
    """What a unit of work gets: the batch's session, and what the writer does once for all
    the batch's units at its end: rows to insert (one multi-row INSERT per table), unconditional
    additions to usage counters (one UPDATE per agreement and month) and audit events (one
    append, last, under the chain lock). Conditional statements whose outcome the unit needs (a
    quota's `used + n <= quota`, a status transition) it runs itself on `session`."""

    open_session: Callable[[], AsyncSession]
    """Gives the batch's session; on SQLite it is opened only when a unit first asks for it."""
    events: list[NewEvent] = field(default_factory=list)
    rows: dict[Table, list[dict[str, Any]]] = field(default_factory=dict)
    usage: Counter[tuple[str, str]] = field(default_factory=Counter)
    won: bool = False
    """Whether the unit's `Transition` (see `JobWriter.run`) took effect; the writer sets it."""
    _session: AsyncSession | None = None

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self.open_session()
        return self._session

    @property
    def session_opened(self) -> AsyncSession | None:
        return self._session

    def insert(self, table: Table, values: dict[str, Any]) -> None:
        self.rows.setdefault(table, []).append(values)

    def add_usage(self, agreement_id: str, month: str, amount: int) -> None:
        self.usage[(agreement_id, month)] += amount


Work = Callable[[WorkContext], Awaitable[T]]


@dataclass
class _Pending(Generic[T]):
    work: Work[T]
    answer: asyncio.Future[T]
    transition: Transition | None = None


_STOP = object()


class JobWriter:
    """One per process and database: `writer = JobWriter(sessions)`; `await writer.run(work)`.

    The writer task starts with the first `run` in the running event loop; `close()` finishes
    what is queued and stops it (a later `run` starts it again).
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession], *, max_batch: int = 512) -> None:
        self.sessions = sessions
        self.max_batch = max_batch
        self._queue: asyncio.Queue[_Pending[Any] | object] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.batches = 0
        """Transactions committed so far (for benchmarks and tests of the batching)."""
        self.units = 0
        """Units of work committed so far."""
        self._direct: bool | None = None
        """Whether batches run on an inline SQLite connection (None: not known yet)."""
        self._held: AsyncConnection | None = None
        """The writer's connection, kept checked out between batches (see `_connection`)."""
        self._raw: Any = None
        """Its pooled DBAPI connection (SQLAlchemy's adapter around the driver's)."""

    async def run(self, work: Work[T], *, transition: Transition | None = None) -> T:
        """Run `work` in the next batch's transaction; returns its result once committed.

        With `transition`, the job's conditional UPDATE runs (batched) before `work`, which reads
        `context.won` to know whether it took effect."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write(), name="job-writer")
        answer: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Pending(work, answer, transition))
        return await answer

    async def close(self) -> None:
        if self._task is not None:
            self._queue.put_nowait(_STOP)
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._release()

    async def _connection(self, engine: AsyncEngine) -> AsyncConnection:
        """The writer's connection, checked out once and kept: the engine is the writer's own
        (one serial writer), and a check-out and return per batch (pool bookkeeping, a reset
        rollback) cost more than a batch of one unit's statements."""
        if self._held is None or self._held.closed or self._held.invalidated:
            await self._release()
            self._held = await engine.connect()
        return self._held

    async def _release(self, *, broken: bool = False) -> None:
        held, self._held = self._held, None
        self._raw = None
        if held is not None and not held.closed:
            with contextlib.suppress(Exception):  # a broken connection: nothing to give back
                if broken:
                    await held.invalidate()  # not back into the pool
                await held.close()

    async def _write(self) -> None:
        while True:
            item = await self._queue.get()
            batch: list[_Pending[Any]] = []
            stopping = False
            while True:
                if item is _STOP:
                    stopping = True
                else:
                    assert isinstance(item, _Pending)
                    batch.append(item)
                if stopping or len(batch) >= self.max_batch or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if batch:
                await self._commit(batch)
            if stopping:
                return

    async def _commit(self, batch: list[_Pending[Any]]) -> None:
        live = [p for p in batch if not p.answer.done()]  # a caller may have been cancelled
        if not live:
            return
        try:
            results = await self._transaction(live)
        except Exception as exc:
            if len(live) == 1:
                live[0].answer.set_exception(exc)
                return
            log.debug("job writer batch of %d rolled back (%s); running each alone", len(live), exc)
            for pending in live:
                try:
                    [result] = await self._transaction([pending])
                except Exception as solo:
                    if not pending.answer.done():
                        pending.answer.set_exception(solo)
                else:
                    if not pending.answer.done():
                        pending.answer.set_result(result)
            return
        for pending, result in zip(live, results, strict=True):
            if not pending.answer.done():
                pending.answer.set_result(result)

    async def _transaction(self, batch: list[_Pending[Any]]) -> list[Any]:
        engine = self.sessions.kw.get("bind")
        if self._direct is not False and isinstance(engine, AsyncEngine):
            results = await self._direct_transaction(engine, batch)
            if results is not None:
                return results
        async with self.sessions() as session, session.begin():
            context = WorkContext(lambda: session)
            won = await _transitions(session, [p.transition for p in batch])
            results = await _run_units(batch, won, context)
            for table, rows in context.rows.items():
                await session.execute(_insert(table), rows)
            if context.usage:
                await quota.add_usage(session, context.usage)
            if context.events:
                await append_in_session(session, context.events)  # last: holds the chain lock
        self._count(batch)
        return results

    async def _direct_transaction(self, engine: AsyncEngine, batch: list[_Pending[Any]]) -> list[Any] | None:
        """The batch on the writer's own connection, its own statements sent to the driver
        directly (`SqliteBatch` on the inline SQLite connection of registry/db/inline_sqlite.py,
        in the driver's own transaction; `PostgresBatch` on asyncpg, in the transaction
        SQLAlchemy began on that connection); a session bound to the same connection and
        transaction is opened only for a unit that asks for one. None for any other driver (then
        the session path runs)."""
        connection = await self._connection(engine)
        raw = self._raw if self._raw is not None else await connection.get_raw_connection()
        self._raw = raw
        driver = raw.driver_connection
        direct: SqliteBatch | PostgresBatch
        if isinstance(driver, InlineSqliteConnection):
            direct = SqliteBatch(driver.db, connection.dialect)
        elif isinstance(driver, asyncpg.Connection):
            direct = PostgresBatch(driver, connection.dialect)
        else:
            self._direct = False
            await self._release()
            return None
        self._direct = True
        sqlite = isinstance(direct, SqliteBatch)
        context = WorkContext(lambda: AsyncSession(bind=connection, expire_on_commit=False))
        try:
            if sqlite:
                # The transaction is the driver's (SQLAlchemy's begin emits nothing on SQLite); a
                # session opened by a unit begins SQLAlchemy's on top of it, and then commits it.
                with as_sqlalchemy_error("BEGIN IMMEDIATE"):  # the write lock, before anything is read
                    await driver.begin_for("BEGIN")
            else:
                await connection.begin()
                # SQLAlchemy's asyncpg adapter sends BEGIN lazily, before its first statement; the
                # batch's first statements are ours, so it is asked to begin now.
                adapter: Any = raw.dbapi_connection
                try:
                    await adapter._start_transaction()
                except connection.dialect.loaded_dbapi.Error as exc:
                    raise _begin_failed(connection, raw, exc) from exc
            won = await direct.transitions([p.transition for p in batch])
            results = await _run_units(batch, won, context)
            session = context.session_opened
            if session is not None:
                await session.flush()  # the units' ORM changes first, as SQLAlchemy would order them
            for table, rows in context.rows.items():
                await direct.insert(table, rows)
            if context.usage:
                await direct.add_usage(context.usage)
            if context.events:
                await direct.append_events(context.events, utc_now())  # last: holds the chain lock
            if connection.in_transaction():
                await connection.commit()
            if sqlite:
                await driver.commit()  # nothing left to commit when a session's commit did
        except BaseException as failure:
            try:
                if connection.in_transaction():
                    await connection.rollback()
                if sqlite:
                    await driver.rollback()
            except Exception:
                await self._release(broken=True)  # the next batch connects afresh
            else:
                if isinstance(failure, Exception) and database_unreachable(failure):
                    # the connection may be the casualty (the server closed it): a fresh one
                    await self._release(broken=True)
            raise
        finally:
            if context.session_opened is not None:
                await context.session_opened.close()
        self._count(batch)
        return results

    def _count(self, batch: list[_Pending[Any]]) -> None:
        self.batches += 1
        self.units += len(batch)


def _begin_failed(connection: AsyncConnection, raw: Any, exc: Any) -> StatementError:
    """A BEGIN the driver refused, as SQLAlchemy would raise it had it sent the BEGIN itself.
    For a connection the server closed since the last batch (a restart, a terminated backend):
    an outage (503), and, as SQLAlchemy does on a disconnect, this connection and every pooled
    one made before it are replaced at their next check-out (`Pool._invalidate`)."""
    dialect = connection.dialect
    disconnect = dialect.is_disconnect(exc, raw, None)
    error: StatementError = DBAPIError.instance(
        "BEGIN", None, exc, dialect.loaded_dbapi.Error, connection_invalidated=disconnect, dialect=dialect
    )
    if disconnect:
        connection.sync_engine.pool._invalidate(raw, exc)
    return error


async def _run_units(batch: list[_Pending[Any]], won: list[bool], context: WorkContext) -> list[Any]:
    results = []
    for pending, took_effect in zip(batch, won, strict=True):
        context.won = took_effect
        results.append(await pending.work(context))
    return results


async def _transitions(session: AsyncSession, transitions: list[Transition | None]) -> list[bool]:
    """Run the batch's transitions, each one conditional `UPDATE ... RETURNING id`, in order (a
    job changed twice in one batch is changed twice, in the order the units came).

    One statement object per kind (allowed statuses and columns set), built once and bound with
    parameters: SQLAlchemy then reuses its compiled form, where a statement built per batch (an
    earlier `CASE id WHEN ...` per batch) spent more in building and caching the expression than
    SQLite spent running it."""
    won = [False] * len(transitions)
    for index, transition in enumerate(transitions):
        if transition is None:
            continue
        statement = _transition_statement(transition.allowed_from, tuple(sorted(transition.values)))
        changed = await session.execute(statement, {"_job_id": transition.job_id, **transition.values})
        won[index] = changed.first() is not None
    return won


@functools.cache
def _insert(table: Table) -> Any:
    return insert(table)


@functools.cache
def _transition_statement(allowed_from: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    table = cast(Table, JobRow.__table__)
    return (
        update(table)
        .where(table.c.id == bindparam("_job_id"), table.c.status.in_(allowed_from))
        .values({column: bindparam(column, type_=table.c[column].type) for column in columns})
        .returning(table.c.id)
    )
