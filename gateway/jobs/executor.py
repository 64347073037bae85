"""Runs admitted jobs on their runners, in this process, and keeps their leases.

One lane per runner: a FIFO that starts jobs while the runner has free capacity (its catalog
`capacity`), it is not paused, and the job's tenant has a free slot: its concurrency limit holds
across every gateway process on the database (`gateway.jobs.slots`), so a job whose tenant's
slots are all held elsewhere waits, asking again every half second. A job that waits past its
deadline is aborted. Every job of this process carries a lease (`owner`,
`heartbeat_at`) renewed here; a job whose lease ran out (its process died) is recovered by any
gateway: queued ones are taken over and run; running ones on a local runner are queued again and
run from the start (counted in `restarts`, bounded, audited as `job.requeued`: the seed gives the
same images and the admission's reservation still stands), and running ones on a provider's
runner are failed with the reason (the provider may already have generated or billed them).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.catalog.cache import CatalogRevision
from gateway.jobs.config import JobLimits
from gateway.jobs.dispatch import QueueStats
from gateway.jobs.events import JobEventHub
from gateway.jobs.lifecycle import ACTIVE, JobTransitions, outbox_written
from gateway.jobs.pool import RunnerPool
from gateway.jobs.schemas import JobView
from gateway.jobs.slots import leased_through
from gateway.jobs.tenant_limits import TenantLimitTable
from gateway.jobs.views import job_view
from gateway.storage import ArtifactProvenance, ImageBackend, ImageStoreError, ImageToSave, Provenance
from gateway.storage.saver import ImageSaver
from registry.audit import EventKind, NewEvent, append_in_session
from registry.db.unreachable import log_failure
from registry.jobs import slots as slot_rows
from registry.jobs.tables import JobRow
from registry.jobs.writer import JobWriter
from registry.vocabulary import RunnerKind
from runners.errors import RunnerError, TaskCanceledError
from runners.task import GenerationResult, GenerationTask, ProgressEvent

log = logging.getLogger(__name__)

SLOT_PURGE_SECONDS = 60.0
"""At most this often a process deletes the slot rows of processes that died."""

CANCELED_BY_CLIENT = "canceled by the client"


def canceled_error(reason: str | None) -> str:
    """A canceled job's `error`: its tenant's cancel, or the operator's with its reason."""
    if reason is None:
        return CANCELED_BY_CLIENT
    return f"canceled by the operator: {reason}" if reason else "canceled by the operator"


TERMINAL_EVENT = {"succeeded": "completed", "failed": "failed", "canceled": "canceled", "aborted": "aborted"}


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class _Queued:
    job_id: str
    tenant_id: str
    runner_id: str
    task: GenerationTask
    deadline: dt.datetime | None
    row: JobRow
    """The row as admitted (or recovered): its admission-time columns never change, so the
    transitions and the image provenance use it instead of reading it back."""
    slot: bool = False
    """Whether it holds one of its tenant's slots (taken at admission to start at once)."""


class _Ending(asyncio.Event):
    """Set when the job ended; `view` is the job as it ended and `images` the PNGs stored for
    it (no read-back for waiters)."""

    view: JobView | None = None
    images: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class Ended:
    """A job that ended in this process, as its terminal transition recorded it."""

    view: JobView | None
    """None when another transition ended it (then read the row)."""
    images: tuple[bytes, ...]
    """The stored PNGs (with provenance), in order; empty unless it succeeded here."""


class JobExecutor(QueueStats):
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        writer: JobWriter,
        pool: RunnerPool,
        hub: JobEventHub,
        store: ImageBackend,
        limits: JobLimits,
        *,
        owner: str,
        catalog: Callable[[], Awaitable[CatalogRevision]],
        notify: Callable[[], None] = lambda: None,
        clock: Callable[[], dt.datetime] = utc_now,
        tenant_limits: TenantLimitTable | None = None,
    ) -> None:
        self.sessions = sessions
        self.pool = pool
        self.hub = hub
        self.store = store
        self.limits = limits
        self.owner = owner
        self.transitions = JobTransitions(writer)
        self._catalog = catalog
        self._notify = notify
        self._clock = clock
        self._lanes: dict[str, deque[_Queued]] = {}
        self._running: dict[str, tuple[str, asyncio.Task[None], JobRow]] = {}
        """Job id -> (runner id, its task, the row as admitted or recovered)."""
        self.slots = leased_through(
            writer,
            owner,
            limits.concurrency,
            lease_s=limits.lease_s,
            now=clock,
            limit_of=tenant_limits.concurrency if tenant_limits is not None else None,
        )
        self._leasing: set[str] = set()
        """Tenants whose slots the lanes are asking the database for."""
        self._background: set[asyncio.Task[None]] = set()
        self._retry_pump: asyncio.TimerHandle | None = None
        self._release_later: asyncio.TimerHandle | None = None
        self._slots_purged_at: float | None = None
        self._finished: dict[str, _Ending] = {}
        self._cancel_errors: dict[str, str] = {}
        """The error a running job that is being canceled ends with (the operator's reason)."""
        self._unrecorded: dict[str, tuple[str, int, str | None, JobRow | None, tuple[str, ...]]] = {}
        """Jobs whose end could not be written yet (database down), retried by maintenance (their
        PNGs are not kept in memory meanwhile: a waiter reads them from the store)."""
        self._maintenance: asyncio.Task[None] | None = None
        self._closing = False
        self.saver = ImageSaver(store)

    # --- QueueStats -------------------------------------------------------------------------
    async def take_slot(self, tenant_id: str) -> bool:
        return await self.slots.take(tenant_id)

    def give_slot(self, tenant_id: str) -> None:
        self.slots.give(tenant_id)
        self._schedule_release()

    def has_room(self, tenant_id: str) -> bool:
        return self.slots.free(tenant_id) > 0 or self.slots.may_lease(tenant_id)

    def backlog(self, runner_id: str) -> int:
        return len(self._lanes.get(runner_id, ()))

    # --- submission -------------------------------------------------------------------------
    def enqueue(
        self, row: JobRow, task: GenerationTask, *, slot: bool = False, recovered: bool = False
    ) -> None:
        """Queue the job on its runner's lane; `slot`: it holds one of its tenant's slots;
        `recovered`: taken over from a gateway process that stopped (said in its `queued` event)."""
        lane = self._lanes.setdefault(row.runner_id, deque())
        lane.append(_Queued(row.id, row.tenant_id, row.runner_id, task, row.deadline_at, row, slot))
        self._finished.setdefault(row.id, _Ending())
        self.hub.open(row.id)
        queued = {"job_id": row.id, "position": len(lane), "runner": row.runner_id}
        self.hub.publish(row.id, "queued", {**queued, "recovered": True} if recovered else queued)
        self._pump(row.runner_id)

    async def wait(self, job_id: str, seconds: float) -> bool:
        """True when the job ended within `seconds` (it must run in this process)."""
        return await self.wait_ended(job_id, seconds) is not None

    async def wait_ended(self, job_id: str, seconds: float) -> Ended | None:
        """The job as it ended, when it ended within `seconds` in this process; else None."""
        event = self._finished.get(job_id)
        if event is None:
            return None
        if not event.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(seconds):  # a timer only (`wait_for` makes a task too)
                    await event.wait()
        return Ended(event.view, event.images) if event.is_set() else None

    def queue_position(self, job_id: str) -> int | None:
        for lane in self._lanes.values():
            for index, item in enumerate(lane):
                if item.job_id == job_id:
                    return index + 1
        return None

    async def cancel(self, job_id: str, reason: str | None = None) -> bool:
        """Cancel a job of this process: dropped from its lane, or stopped between steps.
        `reason`: the operator's (`canceled_error`); None when its tenant asked."""
        error = canceled_error(reason)
        for lane in self._lanes.values():
            for item in lane:
                if item.job_id == job_id:
                    lane.remove(item)
                    self._drop_slot(item)
                    await self._finish(job_id, "canceled", error=error, row=item.row)
                    return True
        running = self._running.get(job_id)
        if running is not None:
            pooled = self.pool.get(running[0])
            if pooled is not None:
                self._cancel_errors[job_id] = error
                await pooled.runner.cancel(job_id)
            return True
        return False

    # --- lanes ------------------------------------------------------------------------------
    def _pump(self, runner_id: str) -> None:
        lane = self._lanes.get(runner_id)
        pooled = self.pool.get(runner_id)
        if not lane or pooled is None or pooled.paused or self._closing:
            return
        now = self._clock()
        while lane and pooled.running < pooled.capacity:
            chosen = None
            for item in lane:
                if item.deadline is not None and item.deadline <= now:
                    chosen = item
                    break
                if item.slot or self.slots.take_now(item.tenant_id):
                    item.slot = True
                    chosen = item
                    break
                self._want_slot(item.tenant_id)
            if chosen is None:
                return
            lane.remove(chosen)
            if chosen.deadline is not None and chosen.deadline <= now:
                self._drop_slot(chosen)
                asyncio.get_running_loop().create_task(self._abort(chosen))
                continue
            pooled.running += 1
            task = asyncio.get_running_loop().create_task(self._run(chosen), name=f"job-{chosen.job_id}")
            self._running[chosen.job_id] = (runner_id, task, chosen.row)

    def _pump_all(self) -> None:
        for runner_id in list(self._lanes):
            self._pump(runner_id)

    # --- tenant slots (gateway.jobs.slots) --------------------------------------------------
    def _want_slot(self, tenant_id: str) -> None:
        """A queued job of the tenant could start but for a slot: lease one, then pump again;
        when the database has none, look again after the retry interval."""
        if self._closing or tenant_id in self._leasing:
            return
        if not self.slots.may_lease(tenant_id):
            self._pump_later()
            return
        self._leasing.add(tenant_id)
        self._in_background(self._lease_then_pump(tenant_id))

    async def _lease_then_pump(self, tenant_id: str) -> None:
        try:
            leased = await self.slots.lease(tenant_id)
        finally:
            self._leasing.discard(tenant_id)
        if leased:
            self._pump_all()
            self._schedule_release()  # a slot no queued job took goes back after the linger
        else:
            self._pump_later()

    def _pump_later(self) -> None:
        if self._retry_pump is None and not self._closing:
            self._retry_pump = asyncio.get_running_loop().call_later(self.slots.retry_s, self._pump_again)

    def _pump_again(self) -> None:
        self._retry_pump = None
        self._pump_all()

    def _drop_slot(self, item: _Queued) -> None:
        """The job leaves its lane without running: its slot, if it holds one, is free again."""
        if item.slot:
            item.slot = False
            self.give_slot(item.tenant_id)

    def _schedule_release(self) -> None:
        """Free slots go back to the database once they stayed free for the linger."""
        if self._release_later is None and not self._closing:
            self._release_later = asyncio.get_running_loop().call_later(
                self.slots.linger_s, self._release_when_due
            )

    def _release_when_due(self) -> None:
        self._release_later = None
        self._in_background(self._release_idle())

    async def _release_idle(self) -> None:
        await self.slots.release_idle()
        if self.slots.any_free():
            self._schedule_release()

    def _in_background(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _abort(self, item: _Queued) -> None:
        await self._finish(
            item.job_id, "aborted", error="the deadline passed before the job started", row=item.row
        )

    async def _run(self, item: _Queued) -> None:
        pooled = self.pool.get(item.runner_id)
        assert pooled is not None
        row: JobRow | None = item.row
        try:
            if item.row.status != "running":  # admitted queued, or recovered: start it durably
                row = await self.transitions.start(
                    item.job_id, owner=self.owner, now=self._clock(), row=item.row
                )
                if row is None:
                    return
            assert row is not None
            if row.webhook:
                self._notify()  # `job.started` is in the outbox
            self.hub.publish(item.job_id, "started", {"job_id": item.job_id, "runner": item.runner_id})

            def progress(event: ProgressEvent) -> None:
                self.hub.publish(
                    item.job_id,
                    "progress",
                    {"job_id": item.job_id, "step": event.step, "total_steps": event.total_steps},
                )

            result = await pooled.runner.submit(item.task, progress)
            stored = await self.saver.save(self._to_save(row, result))  # batched with other jobs'
            for index, image in enumerate(result.images):
                self.hub.publish(
                    item.job_id,
                    "image",
                    {
                        "job_id": item.job_id,
                        "index": index,
                        "seed": image.seed,
                        "url": f"/v1/jobs/{item.job_id}/images/{index}",
                    },
                )
            pngs = tuple(s.data for s in stored)
            digests = tuple(s.sha256 for s in stored)
            await self._finish(
                item.job_id, "succeeded", images=len(result.images), row=row, pngs=pngs, digests=digests
            )
        except TaskCanceledError:
            error = self._cancel_errors.pop(item.job_id, CANCELED_BY_CLIENT)
            await self._finish(item.job_id, "canceled", error=error, row=row)
        except RunnerError as exc:
            await self._finish(item.job_id, "failed", error=f"{type(exc).__name__}: {exc}", row=row)
        except ImageStoreError as exc:  # the images were made but could not be kept
            log.warning("job %s failed: %s", item.job_id, exc)
            await self._finish(item.job_id, "failed", error=f"images not stored: {exc}", row=row)
        except asyncio.CancelledError:
            raise  # shutdown: `stop` ends the job
        except Exception as exc:
            log.exception("job %s failed", item.job_id)
            await self._finish(item.job_id, "failed", error=f"internal error: {type(exc).__name__}", row=row)
        finally:
            pooled.running -= 1
            self._running.pop(item.job_id, None)
            self._cancel_errors.pop(item.job_id, None)
            self._drop_slot(item)
            self._pump_all()

    def _to_save(self, row: JobRow, result: GenerationResult) -> list[ImageToSave]:
        decision = row.decision or {}
        now = self._clock()
        model = ArtifactProvenance(artifact=row.model_id, license=str(decision.get("model_license", "")))
        adapters = tuple(
            ArtifactProvenance(artifact=a["id"], license=a.get("license", ""), scale=a.get("scale"))
            for a in row.adapters or []
        )
        return [
            ImageToSave(
                row.tenant_id,
                row.id,
                index,
                image.png,
                Provenance(
                    model=model,
                    adapters=adapters,
                    decision_id=row.decision_id,
                    job_id=row.id,
                    seed=image.seed,
                    created_at=now,
                ),
            )
            for index, image in enumerate(result.images)
        ]

    def notify(self) -> None:
        """Wake the delivery workers: something was just enqueued in the outbox."""
        self._notify()

    async def _finish(
        self,
        job_id: str,
        status: str,
        *,
        images: int = 0,
        error: str | None = None,
        row: JobRow | None = None,
        pngs: tuple[bytes, ...] = (),
        digests: tuple[str, ...] = (),
    ) -> None:
        """Record the end; `pngs` (the stored images) go to a waiting submitter with the job, and
        their SHA-256 (`digests`, as the store computed them) to its outcome event."""
        try:
            ended = await self.transitions.finish(
                job_id, status, now=self._clock(), images=images, error=error, row=row, image_sha256=digests
            )
        except Exception as exc:
            # Retried by the maintenance loop; meanwhile the lease is still renewed, so no other
            # gateway takes over (fails or reruns) a job whose images were already stored.
            log_failure(log, f"job {job_id} could not be recorded as {status}; retrying", exc)
            self._unrecorded[job_id] = (status, images, error, row, digests)
            return
        self._unrecorded.pop(job_id, None)
        view = None
        if ended is not None:
            view = job_view(ended)
            if outbox_written(ended):
                self._notify()
            self.hub.publish(job_id, TERMINAL_EVENT[status], msgspec.to_builtins(view))
        event = self._finished.pop(job_id, None)
        if event is not None:
            event.view = view
            event.images = pngs if view is not None else ()
            event.set()

    # --- leases and recovery ----------------------------------------------------------------
    def start(self) -> None:
        if self._maintenance is None:
            self._maintenance = asyncio.get_running_loop().create_task(self._maintain(), name="job-leases")

    async def _maintain(self) -> None:
        interval = max(0.2, self.limits.lease_s / 3)
        while True:
            try:
                await self.maintain_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log_failure(log, "job lease maintenance failed", exc)
            await asyncio.sleep(interval)

    async def maintain_once(self) -> None:
        for job_id, (status, images, error, row, digests) in list(self._unrecorded.items()):
            await self._finish(job_id, status, images=images, error=error, row=row, digests=digests)
        now = self._clock()
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(JobRow)
                .where(JobRow.owner == self.owner, JobRow.status.in_(ACTIVE))
                .values(heartbeat_at=now)
            )
            purged_at = self._slots_purged_at
            if purged_at is None or time.monotonic() - purged_at >= SLOT_PURGE_SECONDS:
                await slot_rows.purge_stale(session, now - dt.timedelta(seconds=self.limits.lease_s))
                self._slots_purged_at = time.monotonic()
            wanted = (
                await session.execute(
                    select(JobRow.id, JobRow.cancel_reason).where(
                        JobRow.owner == self.owner,
                        JobRow.status.in_(ACTIVE),
                        JobRow.cancel_requested.is_(True),
                    )
                )
            ).all()
        await self.slots.renew()
        for job_id, reason in wanted:
            await self.cancel(job_id, reason)
        revision = await self._catalog()  # a runner paused or resumed elsewhere
        self.pool.follow(revision.catalog, revision.number)
        for runner_id, lane in list(self._lanes.items()):
            expired = [i for i in lane if i.deadline is not None and i.deadline <= now]
            for item in expired:
                lane.remove(item)
                self._drop_slot(item)
                await self._abort(item)
            self._pump(runner_id)
        await self.slots.release_idle()
        await self.recover(now)

    async def recover(self, now: dt.datetime) -> int:
        """Take over jobs whose executing process stopped: queued ones are run; running ones on a
        local runner are queued again (at most `max_restarts` times) and run, the others failed."""
        stale = now - dt.timedelta(seconds=self.limits.lease_s)
        async with self.sessions() as session:
            rows = (
                await session.scalars(
                    select(JobRow).where(
                        JobRow.status.in_(ACTIVE),
                        or_(JobRow.owner.is_(None), JobRow.owner != self.owner),
                        or_(JobRow.heartbeat_at.is_(None), JobRow.heartbeat_at < stale),
                    )
                )
            ).all()
        recovered = 0
        for row in rows:
            if row.runner_id not in self.pool:
                self.pool.sync((await self._catalog()).catalog)
            if row.status == "running":
                refusal = self._not_restarted(row)
                if refusal is not None:
                    await self._finish(
                        row.id,
                        "failed",
                        error=f"the gateway running this job stopped before it finished; {refusal}",
                    )
                    recovered += 1
                    continue
                if not await self._take_over(row, now, restart=True):
                    continue
            elif not await self._take_over(row, now, restart=False):
                continue
            recovered += 1
            if row.runner_id not in self.pool:
                await self._finish(
                    row.id, "failed", error=f"runner {row.runner_id} is not available in this gateway"
                )
                continue
            self.enqueue(row, msgspec.convert(row.task, GenerationTask), recovered=True)
            if row.cancel_requested:
                await self.cancel(row.id, row.cancel_reason)
        return recovered

    def _restartable(self, runner_id: str) -> bool:
        """A local runner's job can run again from the start: the seed makes the same images and
        nothing outside the operator was asked or billed. A provider's may already have been."""
        pooled = self.pool.get(runner_id)
        return pooled is not None and pooled.entry.kind is RunnerKind.LOCAL_DIFFUSERS

    def _not_restarted(self, row: JobRow) -> str | None:
        """Why a running job whose process died is not queued again, or None when it is."""
        if not self._restartable(row.runner_id):
            return "not retried: a provider's runner may already have generated or billed it"
        if (row.restarts or 0) >= self.limits.max_restarts:
            return f"not retried: it was already restarted {row.restarts} time(s)"
        return None

    async def _take_over(self, row: JobRow, now: dt.datetime, *, restart: bool) -> bool:
        """Claim a job whose lease ran out, as its lease read (another gateway may be faster); a
        running one goes back to queued, counted and recorded in the audit log."""
        claim = update(JobRow).where(
            JobRow.id == row.id,
            JobRow.status == row.status,
            JobRow.heartbeat_at.is_(None)
            if row.heartbeat_at is None
            else JobRow.heartbeat_at == row.heartbeat_at,
        )
        values: dict[str, Any] = {"owner": self.owner, "heartbeat_at": now}
        if restart:
            values.update(status="queued", started_at=None, restarts=JobRow.restarts + 1)
        async with self.sessions() as session, session.begin():
            result = await session.execute(claim.values(values))
            if getattr(result, "rowcount", 0) != 1:
                return False
            if restart:
                await append_in_session(
                    session, [_requeued(row, "the gateway running it stopped", (row.restarts or 0) + 1)]
                )
        row.owner, row.heartbeat_at = self.owner, now
        if restart:
            row.status, row.started_at, row.restarts = "queued", None, (row.restarts or 0) + 1
        return True

    async def stop(self) -> None:
        """Hand queued jobs back, and running ones on a local runner (they run again from the
        start, in this gateway once restarted or in another); fail the others still running."""
        self._closing = True
        for handle in (self._retry_pump, self._release_later):
            if handle is not None:
                handle.cancel()
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
        for background in list(self._background):
            background.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await background
        running = list(self._running.items())
        for _job_id, (_runner_id, task, _row) in running:
            task.cancel()
        interrupted: list[JobRow] = []
        for job_id, (runner_id, task, row) in running:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            if self._restartable(runner_id):
                interrupted.append(row)  # runs again from the start, here or in another gateway
                continue
            await self._finish(job_id, "failed", error="the gateway shut down while the job was running")
        # Jobs admitted `running` (to start at once) that still wait in a lane never started:
        # they go back to queued with the others, so another gateway runs them.
        waiting = [i.job_id for lane in self._lanes.values() for i in lane if i.row.status == "running"]
        back = waiting + [row.id for row in interrupted]
        try:
            async with self.sessions() as session, session.begin():
                if back:
                    changed = await session.execute(
                        update(JobRow)
                        .where(JobRow.id.in_(back), JobRow.status == "running")
                        .values(status="queued", started_at=None)
                        .returning(JobRow.id)
                    )
                    requeued = set(changed.scalars().all())
                    events = [
                        _requeued(row, "the gateway shut down", row.restarts or 0)
                        for row in interrupted
                        if row.id in requeued  # not one that ended as it was stopped
                    ]
                    if events:
                        await append_in_session(session, events)
                await session.execute(
                    update(JobRow)
                    .where(JobRow.owner == self.owner, JobRow.status == "queued")
                    .values(owner=None, heartbeat_at=None)
                )
                await slot_rows.forget(session, self.owner)  # the tenants' slots, free for the others
            self.slots.forget()
        except Exception:
            log.exception("queued jobs and slots could not be handed back; their leases will expire")


def _requeued(row: JobRow, reason: str, restarts: int) -> NewEvent:
    return NewEvent(
        kind=EventKind.JOB_REQUEUED,
        payload={"job_id": row.id, "runner": row.runner_id, "reason": reason, "restarts": restarts},
        tenant=row.tenant_id,
        decision_id=row.decision_id,
        job_id=row.id,
    )
