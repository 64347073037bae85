"""Concurrent appenders, in one process and in several, leave one gapless, unforked chain;
a process killed mid-burst loses no acknowledged event."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import AuditLog, CheckpointSigner, NewEvent, verify_chain
from registry.audit.tables import AuditEventRow

APPENDER = Path(__file__).with_name("audit_appender.py")


async def _stored_seqs(engine: AsyncEngine) -> list[int]:
    async with engine.connect() as connection:
        return list(
            (await connection.execute(select(AuditEventRow.seq).order_by(AuditEventRow.seq))).scalars()
        )


async def test_32_tasks_of_500_appends_leave_a_gapless_chain(
    audit_engine: AsyncEngine, signer: CheckpointSigner
) -> None:
    async with AuditLog(audit_engine, signer=signer, checkpoint_every=2000) as log:

        async def writer(task: int) -> list[int]:
            return [
                (await log.append(NewEvent(kind="test", tenant=f"t{task}", payload={"i": i}))).seq
                for i in range(500)
            ]

        acked = await asyncio.gather(*(writer(task) for task in range(32)))
    every = sorted(seq for seqs in acked for seq in seqs)
    assert every == list(range(1, 16_001))
    assert all(seqs == sorted(seqs) for seqs in acked)  # each writer's events in its own order
    assert await _stored_seqs(audit_engine) == every
    report = await verify_chain(audit_engine, verifier=signer)
    assert report.ok, report.problem
    assert report.checkpoints_checked >= 8  # every 2000 events, plus the one on close


async def test_append_many_gets_consecutive_numbers(audit_engine: AsyncEngine) -> None:
    async with AuditLog(audit_engine) as log:
        together = log.append_many([NewEvent(kind="test", payload={"n": n}) for n in range(50)])
        alone = [log.append(NewEvent(kind="other")) for _ in range(20)]
        batch, *singles = await asyncio.gather(together, *alone)
    assert [event.seq for event in batch] == list(range(batch[0].seq, batch[0].seq + 50))
    assert {event.seq for event in singles}.isdisjoint(event.seq for event in batch)


def _spawn(url: str, tasks: int, per_task: int, count: int = 1) -> list[subprocess.Popen[str]]:
    """Start `count` appenders, wait until all are ready, then let them go at the same moment."""
    children = [
        subprocess.Popen(
            [sys.executable, str(APPENDER), url, str(tasks), str(per_task)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    for child in children:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "ready"
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    return children


async def test_two_processes_appending_at_once_leave_one_chain(
    migrated_url: str, audit_engine: AsyncEngine
) -> None:
    children = _spawn(migrated_url, 8, 150, count=2)
    outputs = await asyncio.gather(*(asyncio.to_thread(child.communicate) for child in children))
    assert [child.returncode for child in children] == [0, 0]
    acked = [{int(line) for line in out.split()} for out, _ in outputs]
    assert len(acked[0]) == len(acked[1]) == 1200
    assert acked[0].isdisjoint(acked[1])
    if audit_engine.dialect.name == "postgresql":  # the advisory lock queues fairly
        assert min(acked[0]) < max(acked[1])  # the two did interleave
        assert min(acked[1]) < max(acked[0])
    # SQLite's lock is a busy-wait: one process may well finish before the other gets a turn.
    assert await _stored_seqs(audit_engine) == list(range(1, 2401))
    assert (await verify_chain(audit_engine, verifier=None)).ok


async def test_sigkill_mid_burst_loses_no_acknowledged_event(
    migrated_url: str, audit_engine: AsyncEngine
) -> None:
    (child,) = _spawn(migrated_url, 16, 0)
    assert child.stdout is not None
    acked: list[int] = []
    while len(acked) < 1500:
        line = await asyncio.to_thread(child.stdout.readline)
        assert line, "the appender stopped early"
        acked.append(int(line))
    child.send_signal(signal.SIGKILL)
    rest, _ = await asyncio.to_thread(child.communicate)
    complete_lines = rest.split("\n")[:-1]  # the last one may have been cut by the kill
    acked += [int(line) for line in complete_lines if line]
    assert child.returncode == -signal.SIGKILL
    report = await verify_chain(audit_engine, verifier=None)
    assert report.ok, report.problem
    stored = await _stored_seqs(audit_engine)
    assert stored == list(range(1, len(stored) + 1))
    assert set(acked) <= set(stored)


async def test_a_new_appender_continues_the_chain_after_a_kill(
    migrated_url: str, audit_engine: AsyncEngine
) -> None:
    (child,) = _spawn(migrated_url, 4, 0)
    assert child.stdout is not None
    for _ in range(100):
        await asyncio.to_thread(child.stdout.readline)
    child.kill()
    await asyncio.to_thread(child.communicate)
    async with AuditLog(audit_engine) as log:
        after = await log.append(NewEvent(kind="after.crash"))
    async with audit_engine.connect() as connection:
        count = (await connection.execute(select(func.count()).select_from(AuditEventRow))).scalar_one()
    assert after.seq == count
    assert (await verify_chain(audit_engine, verifier=None)).ok
