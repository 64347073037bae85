"""The job writer alone (`python -m bench.jobwriter`): the durable writes every job makes twice,
without HTTP. Prints the latency of one batch written alone (what a request at c=1 waits for),
the process's CPU time per such batch (user and system: steadier than wall time on a busy
machine), and the units per second that 64 concurrent writers reach (what group commit buys),
on SQLite through the writer's inline connection and on PostgreSQL (skipped when unreachable).

A unit is what an admission writes for a job on an agreement without a quota: a usage-counter
addition and a decision-sized audit event.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from bench.e2e.site import postgres_database
from registry.audit import NewEvent
from registry.db import migrate
from registry.db.engine import create_engine, session_factory
from registry.db.inline_sqlite import create_inline_sqlite_engine
from registry.jobs.writer import JobWriter, WorkContext

SEQUENTIAL = 1000
CONCURRENT_UNITS = 6400
WRITERS = 64
PAYLOAD = {"decision": {"licenses": ["flux-dev-ncl@2.0"], "reasons": ["x" * 40] * 8}, "runner": "r"}


async def _unit(context: WorkContext) -> None:
    context.add_usage("agr-bench", "2026-11", 1)
    context.events.append(NewEvent(kind="bench.unit", payload=PAYLOAD, job_id=f"job_{uuid.uuid4().hex}"))


async def _measure(name: str, engine: AsyncEngine) -> None:
    writer = JobWriter(session_factory(engine))
    try:
        await _figures(name, writer)
    finally:
        await writer.close()
        await engine.dispose()


async def _figures(name: str, writer: JobWriter) -> None:
    for _ in range(50):
        await writer.run(_unit)
    times = []
    cpu_started = time.process_time()
    for _ in range(SEQUENTIAL):
        started = time.perf_counter()
        await writer.run(_unit)
        times.append(time.perf_counter() - started)
    cpu = (time.process_time() - cpu_started) / SEQUENTIAL
    batches = writer.batches
    started = time.perf_counter()
    for _ in range(CONCURRENT_UNITS // WRITERS):
        await asyncio.gather(*(writer.run(_unit) for _ in range(WRITERS)))
    elapsed = time.perf_counter() - started
    per_batch = CONCURRENT_UNITS / (writer.batches - batches)
    print(
        f"  {name:34s} one batch alone p50 {statistics.median(times) * 1e6:6.0f} us, "
        f"p99 {sorted(times)[int(len(times) * 0.99)] * 1e6:6.0f} us, CPU {cpu * 1e6:4.0f} us; "
        f"{WRITERS} writers {CONCURRENT_UNITS / elapsed:7.0f} units/s ({per_batch:.0f} units per batch)"
    )


def _sqlite(directory: Path) -> None:
    path = directory / "bench.sqlite"
    migrate.upgrade(f"sqlite+aiosqlite:///{path}")
    asyncio.run(_measure("SQLite (inline connection)", create_inline_sqlite_engine(str(path))))


def _postgres() -> None:
    with postgres_database() as url:
        if url is not None:
            migrate.upgrade(url)
            asyncio.run(_measure("PostgreSQL (asyncpg pool)", create_engine(url)))


def main() -> None:
    print(
        f"job writer: {SEQUENTIAL} batches one at a time, "
        f"then {CONCURRENT_UNITS} units from {WRITERS} writers"
    )
    with tempfile.TemporaryDirectory(prefix="bench-jobwriter-") as tmp:
        _sqlite(Path(tmp))
    _postgres()
