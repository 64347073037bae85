"""The dispatch transaction on PostgreSQL: quota reservation, decision event and job row commit
together; concurrent submissions never overrun an agreement's quota."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from gateway.jobs.tiny_catalog import TINY_FLUX2_TURBO
from registry.audit import EventKind
from registry.audit.tables import AuditEventRow
from registry.db.engine import create_engine, session_factory
from registry.jobs.tables import JobRow, UsageCounterRow
from tests.gateway.jobs.conftest import (
    LOCAL_FLUX2,
    STUDIO_AGREEMENT,
    JobsWorld,
    flux2_job,
    open_gateway,
    seed_database,
)


async def test_quota_holds_under_concurrent_submissions_on_postgresql(
    jobs_world: JobsWorld, tmp_path: Path, postgres_url: str
) -> None:
    await asyncio.to_thread(seed_database, postgres_url, jobs_world.catalog)
    async with open_gateway(jobs_world, tmp_path, database_url=postgres_url) as gateway:
        gateway.pool.pause(LOCAL_FLUX2)  # jobs stay queued: their reservations stay held
        turbo = flux2_job(adapters=[{"id": TINY_FLUX2_TURBO}], steps=2, num_images=2)
        headers = await gateway.headers()
        answers = await asyncio.gather(
            *(gateway.http.post("/v1/jobs", json=turbo, headers=headers) for _ in range(6))
        )
        statuses = sorted(r.status_code for r in answers)
        assert statuses == [202, 202, 202, 403, 403, 403], [r.text for r in answers]
        engine = create_engine(postgres_url)
        try:
            async with session_factory(engine)() as session:
                jobs = await session.scalar(select(func.count()).select_from(JobRow))
                decisions = await session.scalar(
                    select(func.count())
                    .select_from(AuditEventRow)
                    .where(AuditEventRow.kind == EventKind.POLICY_DECISION, AuditEventRow.job_id.is_not(None))
                )
                counter = await session.get(
                    UsageCounterRow, (STUDIO_AGREEMENT, answers[0].json()["created_at"][:7])
                )
        finally:
            await engine.dispose()
        assert jobs == decisions == 3
        assert counter is not None
        assert counter.used == 6
        gateway.pool.pause(LOCAL_FLUX2, False)
        for answer in answers:
            if answer.status_code == 202:
                assert (await gateway.wait_for(answer.json()["id"]))["status"] == "succeeded"
