"""Figures for the audit log (targets: >= 10,000 events/s at 64 writers; 1M events verified < 10 s)."""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import AuditLog, NewEvent, load_or_create_signing_key, verify_chain
from registry.audit.batch_writers import SQLITE_INSERT_EVENT, sqlite_event_row
from registry.audit.chain import ChainHead, chain_events
from registry.audit.events import EVENT_COLUMNS, AppendedEvent, event_row
from registry.audit.hashing import GENESIS_CHAIN_HASH
from registry.audit.verify import MAX_WORKERS
from registry.db import migrate
from registry.db.engine import create_engine

POSTGRES_ADMIN_DSN = os.environ.get(
    "CLEARANCE_BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/test"
)
WRITERS = (1, 16, 64)


def _event(writer: int, i: int) -> NewEvent:
    return NewEvent(
        kind="policy.decision",
        tenant=f"tenant-{writer % 8}",
        actor_subject=f"client-{writer}",
        client_id=f"client-{writer}",
        request_id=f"req-{writer}-{i}",
        decision_id=f"dec-{writer}-{i}",
        payload={
            "decision": "allow",
            "model": "flux2-dev",
            "licenses": ["flux-dev-nc@2.0"],
            "purpose": "research",
        },
    )


@asynccontextmanager
async def _database(kind: str, workdir: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{workdir / f'bench-{uuid.uuid4().hex[:8]}.db'}"
        return
    import asyncpg

    name = f"clearance_bench_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = POSTGRES_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        yield f"{base}/{name}"
    finally:
        admin = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=5)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def _appends(engine: AsyncEngine, workdir: Path, writers: int, total: int) -> float:
    signer = load_or_create_signing_key(workdir / "keys-data")
    per_writer = max(1, total // writers)
    async with AuditLog(engine, signer=signer) as log:

        async def writer(w: int) -> None:
            for i in range(per_writer):
                await log.append(_event(w, i))

        started = time.perf_counter()
        await asyncio.gather(*(writer(w) for w in range(writers)))
        elapsed = time.perf_counter() - started
    return per_writer * writers / elapsed


def _generated(count: int, batch: int = 10_000) -> Iterator[list[AppendedEvent]]:
    """Valid chained events, computed with the appender's own code, in batches for bulk insert."""
    head = ChainHead(0, GENESIS_CHAIN_HASH, None)
    moment = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    done = 0
    while done < count:
        n = min(batch, count - done)
        moment += dt.timedelta(seconds=1)
        events = chain_events(head, [_event(i % 64, done + i) for i in range(n)], moment)
        yield events
        head = ChainHead(events[-1].seq, events[-1].chain_hash, events[-1].recorded_at)
        done += n


async def _bulk_insert(engine: AsyncEngine, count: int) -> None:
    async with engine.connect() as connection:
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        if connection.dialect.name == "postgresql":
            for events in _generated(count):
                records = [event_row(e) for e in events]
                await driver.copy_records_to_table(
                    "audit_events", records=records, columns=list(EVENT_COLUMNS)
                )
            # As an old log would be: all-visible and frozen, not hint bits still to be set on first read.
            await driver.execute("VACUUM (FREEZE, ANALYZE) audit_events")
        else:
            for events in _generated(count, 50_000):
                await driver.executemany(SQLITE_INSERT_EVENT, [sqlite_event_row(e) for e in events])
                await driver.commit()


async def _bench(kind: str, workdir: Path, events: int, verify_events: int) -> None:
    for writers in WRITERS:
        async with _database(kind, workdir) as url:
            await asyncio.to_thread(migrate.upgrade, url)
            engine = create_engine(url, pool_size=4) if kind == "postgresql" else create_engine(url)
            try:
                rate = await _appends(
                    engine, workdir, writers, events if writers > 1 else max(1, events // 10)
                )
            finally:
                await engine.dispose()
        print(f"{kind:10s} durable appends, {writers:2d} writers: {rate:10,.0f} events/s", flush=True)
    async with _database(kind, workdir) as url:
        await asyncio.to_thread(migrate.upgrade, url)
        engine = create_engine(url)
        try:
            started = time.perf_counter()
            await _bulk_insert(engine, verify_events)
            generated_in = time.perf_counter() - started
            print(
                f"{kind:10s} generated {verify_events:,} chained events in {generated_in:.1f} s", flush=True
            )
            for workers in sorted({1, 2, max(1, min((os.cpu_count() or 1) // 2, MAX_WORKERS))}):
                started = time.perf_counter()
                report = await verify_chain(engine, verifier=None, workers=workers)
                elapsed = time.perf_counter() - started
                status = (
                    "ok"
                    if report.ok and report.events_checked == verify_events
                    else f"FAILED {report.problem}"
                )
                print(
                    f"{kind:10s} verify {report.events_checked:,} events, {workers} process(es): "
                    f"{elapsed:.2f} s "
                    f"({report.events_checked / elapsed:,.0f} events/s) {status}",
                    flush=True,
                )
        finally:
            await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit")
    parser.add_argument("--events", type=int, default=40_000, help="appends per run (16 and 64 writers)")
    parser.add_argument("--verify-events", type=int, default=1_000_000)
    parser.add_argument("--only", choices=["sqlite", "postgresql"])
    args = parser.parse_args(argv if argv is not None else [])
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    print(f"{os.cpu_count()} CPUs, load average {load} (other work on the machine skews the figures)")
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as tmp:
        for kind in ("sqlite", "postgresql"):
            if args.only and kind != args.only:
                continue
            try:
                asyncio.run(_bench(kind, Path(tmp), args.events, args.verify_events))
            except OSError as exc:
                print(f"{kind}: skipped, database unreachable ({exc})", flush=True)
    return 0
