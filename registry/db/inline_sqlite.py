"""An async SQLite engine for one serial writer (the `JobWriter`): its statements run inline on
the event loop. Taking the write lock when another connection holds it (`BEGIN IMMEDIATE`) waits
on the connection's own thread; `COMMIT` (the fsync) runs inline while commits take under a
millisecond and on that thread once one is slower (`registry.db.blocking.ShortBlocking`).

Why not aiosqlite, the driver every other session uses: aiosqlite sends each statement to its
thread and back, two context switches per statement. A batch of job writes is 5-10 statements,
each taking microseconds in SQLite itself, so on a busy gateway the hops, not SQLite, set the
latency of every admission and completion (measured: `python -m bench.e2e`, see docs/jobs.md).
Inline, a batch costs its statements and its commit, and the event loop never waits on another
process's lock or on a slow disk.

Each transaction begins with `BEGIN IMMEDIATE` at its first statement: the writer's transactions
all write, and holding the write lock from the start means no later statement can meet
`SQLITE_BUSY` (the connection's busy timeout is 0 inline, so a busy statement would fail rather
than block the loop). When the lock is taken, the BEGIN is retried on the thread, waiting up to
`timeout_s` as aiosqlite's connections do.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool

from registry.db.blocking import ShortBlocking, WorkerThread
from registry.db.engine import JSON_CODECS


class _Cursor:
    """aiosqlite's cursor surface, as SQLAlchemy's aiosqlite adapter uses it, run inline."""

    __slots__ = ("_connection", "_cursor")

    def __init__(self, connection: InlineSqliteConnection) -> None:
        self._connection = connection
        self._cursor = connection.db.cursor()

    async def __aenter__(self) -> _Cursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> _Cursor:
        await self._connection.begin_for(sql)
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any] | dict[str, Any]]) -> _Cursor:
        await self._connection.begin_for(sql)
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()


class InlineSqliteConnection:
    """aiosqlite's connection surface over a plain `sqlite3` connection (see the module doc)."""

    def __init__(self, db: sqlite3.Connection, thread: WorkerThread, timeout_s: float) -> None:
        self.db = db
        self._thread = thread
        self._timeout_ms = int(timeout_s * 1000)
        self._commits = ShortBlocking(thread)

    @classmethod
    async def open(cls, database: str, timeout_s: float) -> InlineSqliteConnection:
        thread = WorkerThread("sqlite-inline")

        def connect() -> sqlite3.Connection:
            # Autocommit mode: transactions are begun here (BEGIN IMMEDIATE), never implicitly.
            db = sqlite3.connect(database, timeout=timeout_s, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA foreign_keys=ON")
            db.execute("PRAGMA busy_timeout=0")
            return db

        try:
            db = await thread.run(connect)
        except BaseException:
            thread.stop()
            raise
        return cls(db, thread, timeout_s)

    @property
    def _connection(self) -> sqlite3.Connection:
        """SQLAlchemy's adapter checks `_connection` before commit and rollback."""
        return self.db

    @property
    def isolation_level(self) -> str | None:
        return self.db.isolation_level

    def cursor(self) -> _Cursor:
        return _Cursor(self)

    async def begin_for(self, sql: str) -> None:
        """Open the transaction before the first statement that is not a PRAGMA."""
        if self.db.in_transaction or sql.lstrip()[:6].upper() == "PRAGMA":
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            await self._thread.run(self._begin_waiting)

    def _begin_waiting(self) -> None:
        self.db.execute(f"PRAGMA busy_timeout={self._timeout_ms}")
        try:
            self.db.execute("BEGIN IMMEDIATE")
        finally:
            self.db.execute("PRAGMA busy_timeout=0")

    async def commit(self) -> None:
        if self.db.in_transaction:
            await self._commits.run(self.db.execute, "COMMIT")

    async def rollback(self) -> None:
        if self.db.in_transaction:
            self.db.execute("ROLLBACK")

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.db.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        self.db.close()
        self._thread.stop()


def create_inline_sqlite_engine(database: str, *, timeout_s: float = 30.0) -> AsyncEngine:
    """An engine for one serial writer over the SQLite file `database` (see the module doc)."""
    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

    async def connect() -> InlineSqliteConnection:
        return await InlineSqliteConnection.open(database, timeout_s)

    return create_async_engine(
        f"sqlite+aiosqlite:///{database}",
        async_creator=connect,
        poolclass=AsyncAdaptedQueuePool,
        pool_size=1,
        max_overflow=1,
        **JSON_CODECS,
    )
