"""Retention: a purge is itself audited, re-anchors the chain, and verification still passes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from audit_samples import sample_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from registry.audit import (
    AuditLog,
    CheckpointSigner,
    EventKind,
    NewEvent,
    PurgeError,
    export_checkpoint,
    load_or_create_signing_key,
    purge_before,
    verify_chain,
)


class SteppingClock:
    """The appender's clock, one day further at each read: old and new events without waiting."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(days=1)
        return self.now


START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


async def test_purge_reanchors_and_verification_still_passes(
    audit_engine: AsyncEngine, signer: CheckpointSigner, tmp_path: Path
) -> None:
    clock = SteppingClock(START)
    async with AuditLog(audit_engine, signer=signer, clock=clock) as log:
        for i in range(10):  # one event per day: Jan 2 .. Jan 11
            await log.append(sample_event(i))
        old_checkpoint = await log.checkpoint()
    assert old_checkpoint is not None
    report = await purge_before(
        audit_engine,
        dt.datetime(2026, 1, 7, tzinfo=dt.UTC),
        signer=signer,
        actor_subject="cli:ops",
        clock=clock,
    )
    assert (report.purged_events, report.through_seq) == (5, 5)
    assert report.purge_event.seq == 11
    assert report.purge_event.kind == EventKind.RETENTION_PURGE
    assert report.purge_event.payload_value()["purged_through_seq"] == 5
    assert report.checkpoint.sequence == 11

    verified = await verify_chain(audit_engine, verifier=signer, checkpoint=report.checkpoint)
    assert verified.ok, verified.problem
    assert (verified.start_seq, verified.head_seq, verified.events_checked) == (6, 11, 6)
    # A checkpoint from before the purge still checks what remains of its range.
    assert (await verify_chain(audit_engine, verifier=signer, checkpoint=old_checkpoint)).ok

    async with AuditLog(audit_engine, signer=signer, clock=clock) as log:
        assert (await log.append(NewEvent(kind="after.purge"))).seq == 12
    assert (await verify_chain(audit_engine, verifier=signer)).ok
    export_checkpoint(report.checkpoint, tmp_path / "after-purge.json")


async def test_purging_everything_keeps_a_verifiable_chain(
    audit_engine: AsyncEngine, signer: CheckpointSigner
) -> None:
    clock = SteppingClock(START)
    async with AuditLog(audit_engine, clock=clock) as log:
        for i in range(3):
            await log.append(sample_event(i))
    report = await purge_before(
        audit_engine, clock.now + dt.timedelta(hours=1), signer=signer, actor_subject=None, clock=clock
    )
    assert (report.purged_events, report.purge_event.seq) == (3, 4)
    verified = await verify_chain(audit_engine, verifier=signer)
    assert (verified.ok, verified.start_seq, verified.head_seq) == (True, 4, 4)


async def test_forged_anchor_is_detected(
    audit_engine: AsyncEngine, signer: CheckpointSigner, tmp_path: Path
) -> None:
    clock = SteppingClock(START)
    async with AuditLog(audit_engine, clock=clock) as log:
        for i in range(4):
            await log.append(sample_event(i))
    await purge_before(
        audit_engine, START + dt.timedelta(days=3), signer=signer, actor_subject=None, clock=clock
    )
    other = load_or_create_signing_key(tmp_path / "other")
    report = await verify_chain(audit_engine, verifier=other)
    assert (report.ok, report.first_bad_seq) == (False, 3)


async def test_refusals_leave_everything_unchanged(
    audit_engine: AsyncEngine, signer: CheckpointSigner
) -> None:
    clock = SteppingClock(START)
    async with AuditLog(audit_engine, clock=clock) as log:
        await log.append(sample_event(0))
    with pytest.raises(PurgeError, match="no audit events recorded before"):
        await purge_before(audit_engine, START, signer=signer, actor_subject=None, clock=clock)
    with pytest.raises(PurgeError, match="in the future"):
        await purge_before(
            audit_engine, clock.now + dt.timedelta(days=30), signer=signer, actor_subject=None, clock=clock
        )
    async with audit_engine.connect() as connection:
        assert (await connection.execute(text("SELECT count(*) FROM audit_events"))).scalar_one() == 1
        assert (await connection.execute(text("SELECT count(*) FROM audit_anchors"))).scalar_one() == 0
