"""The job writer's SQLite engine (statements inline, the lock wait and slow commits on a
thread), `ShortBlocking`, which decides where a short blocking call runs, and `WorkerThread`,
the thread it hops to."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from registry.db.blocking import ShortBlocking, WorkerThread
from registry.db.engine import create_engine
from registry.db.inline_sqlite import create_inline_sqlite_engine


async def test_transactions_commit_roll_back_and_return_rows(tmp_path: Path) -> None:
    engine = create_inline_sqlite_engine(str(tmp_path / "db.sqlite"))
    sessions = async_sessionmaker(engine)
    try:
        async with sessions() as session, session.begin():
            await session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
            await session.execute(text("INSERT INTO t (v) VALUES (:v)"), [{"v": "a"}, {"v": "b"}])
            changed = await session.execute(text("UPDATE t SET v = 'c' WHERE id = 1 RETURNING id"))
            assert changed.scalars().all() == [1]
        try:
            async with sessions() as session, session.begin():
                await session.execute(text("INSERT INTO t (v) VALUES ('lost')"))
                raise RuntimeError("the unit of work failed")
        except RuntimeError:
            pass
        async with sessions() as session:
            assert (await session.execute(text("SELECT id, v FROM t ORDER BY id"))).all() == [
                (1, "c"),
                (2, "b"),
            ]
    finally:
        await engine.dispose()


async def test_a_held_write_lock_is_waited_for_off_the_event_loop(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    inline = create_inline_sqlite_engine(str(path))
    other = create_engine(f"sqlite+aiosqlite:///{path}")
    ticks = 0

    async def tick() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.01)

    try:
        async with other.begin() as connection:
            await connection.execute(text("CREATE TABLE t (v TEXT)"))
        async with other.connect() as holder:
            await holder.exec_driver_sql("BEGIN IMMEDIATE")
            ticker = asyncio.create_task(tick())
            write = asyncio.create_task(_insert(inline))
            await asyncio.sleep(0.3)
            assert not write.done()  # waiting for the lock ...
            await holder.exec_driver_sql("COMMIT")
        await write
        ticker.cancel()
        assert ticks >= 20  # ... while the loop kept running
        async with other.connect() as connection:
            assert (await connection.execute(text("SELECT v FROM t"))).scalars().all() == ["written"]
    finally:
        await inline.dispose()
        await other.dispose()


async def _insert(engine: AsyncEngine) -> None:
    async with async_sessionmaker(engine)() as session, session.begin():
        await session.execute(text("INSERT INTO t (v) VALUES ('written')"))


async def test_short_blocking_follows_the_average_call_time_not_one_slow_call() -> None:
    blocking = ShortBlocking(threshold_s=0.05, smoothing=0.5)
    loop_thread = threading.get_ident()

    def where(delay: float = 0.0) -> bool:
        time.sleep(delay)
        return threading.get_ident() == loop_thread

    assert await blocking.run(where) is True
    assert await blocking.run(where, 0.06) is True  # one slow call: the average stays under 0.05
    assert blocking.inline
    assert await blocking.run(where, 0.2) is True  # the average passes the threshold
    assert not blocking.inline
    # Fast calls on the thread bring the average down; under half the threshold it comes back.
    assert [await blocking.run(where) for _ in range(4)] == [False, False, False, True]
    assert blocking.slow_calls == 2


async def test_a_worker_thread_runs_calls_in_order_off_the_loop_and_hands_back_errors() -> None:
    thread = WorkerThread("test-worker")
    loop_thread = threading.get_ident()
    ran: list[int] = []

    def call(n: int) -> int:
        assert threading.get_ident() != loop_thread
        ran.append(n)
        return n * 2

    def fails() -> None:
        raise ValueError("from the thread")

    try:
        assert await asyncio.gather(*(thread.run(call, n) for n in range(5))) == [0, 2, 4, 6, 8]
        assert ran == [0, 1, 2, 3, 4]
        with pytest.raises(ValueError, match="from the thread"):
            await thread.run(fails)
        # A call cancelled before the thread reached it is not run.
        release = threading.Event()
        blocker = thread.run(release.wait, 5)
        skipped = thread.run(call, 99)
        skipped.cancel()
        release.set()
        assert await blocker is True
        assert await thread.run(call, 7) == 14
        assert 99 not in ran
    finally:
        thread.stop()
    with pytest.raises(RuntimeError, match="stopped"):
        thread.run(call, 1)
