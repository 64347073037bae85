"""`JobService`: what any surface (the `/v1/jobs` controllers, an OpenAI-compatible endpoint)
calls to submit, read, list, cancel and follow jobs. It takes an `AuthContext`, never a
Litestar request, and raises domain errors mapped once in `gateway.jobs.problems`."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.api.errors import InvalidQueryError
from gateway.auth.context import AuthContext
from gateway.catalog.cache import CatalogCache
from gateway.jobs.dispatch import Admitted, Dispatcher
from gateway.jobs.erasure import erase_job, erased
from gateway.jobs.errors import IdempotencyRejectedError, JobNotFoundError, JobStateError
from gateway.jobs.events import JobEventHub
from gateway.jobs.executor import TERMINAL_EVENT, JobExecutor, utc_now
from gateway.jobs.lifecycle import TERMINAL
from gateway.jobs.schemas import JobPage, JobRequest, JobView
from gateway.jobs.views import job_view
from gateway.storage import ImageBackend, ImageNotFoundError
from gateway.webhooks import WEBHOOK_KIND
from registry.delivery.idempotency import (
    Conflict,
    IdempotencyStore,
    Mismatch,
    Replay,
    hash_request_body,
)
from registry.delivery.outbox import MessageState, messages_for_job
from registry.jobs.tables import JobRow

MAX_PAGE = 100


@dataclass(frozen=True)
class Submission:
    """What `submit` answers: the job, whether it ended within the wait, or a stored replay."""

    job: JobView | None
    finished: bool = False
    replay: Replay | None = None
    images: tuple[bytes, ...] = ()
    """The job's stored PNGs when it succeeded within the wait in this process (else read them)."""


@dataclass(frozen=True)
class JobFilter:
    status: str | None = None
    model: str | None = None
    since: dt.datetime | None = None
    runner: str | None = None
    until: dt.datetime | None = None


class JobService:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        catalog: CatalogCache,
        dispatcher: Dispatcher,
        executor: JobExecutor,
        hub: JobEventHub,
        store: ImageBackend,
        idempotency: IdempotencyStore,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.sessions = sessions
        self.catalog = catalog
        self.dispatcher = dispatcher
        self.executor = executor
        self.hub = hub
        self.store = store
        self.idempotency = idempotency
        self._clock = clock

    async def submit(
        self,
        auth: AuthContext,
        request: JobRequest,
        *,
        wait_s: float = 0.0,
        idempotency_key: str | None = None,
        body: bytes | None = None,
    ) -> Submission:
        """Admit and hand to the executor; with `wait_s`, wait that long for the job to end.

        With `idempotency_key`, the first response (the 202 job) is stored with the job in one
        transaction and replayed for the same key and body."""
        now = self._clock()
        on_admitted = None
        if idempotency_key is not None:
            raw = body if body is not None else msgspec.json.encode(request)
            began = await self.idempotency.begin(
                auth.tenant_id, idempotency_key, hash_request_body(raw), now=now
            )
            if isinstance(began, Replay):
                return Submission(job=None, replay=began)
            if isinstance(began, Mismatch):
                raise IdempotencyRejectedError(
                    "this Idempotency-Key was used with a different request body", status=422
                )
            if isinstance(began, Conflict):
                raise IdempotencyRejectedError(
                    "a request with this Idempotency-Key is still in progress", status=409
                )
            key = idempotency_key

            async def on_admitted(session: AsyncSession, row: JobRow) -> None:
                await self.idempotency.complete(
                    auth.tenant_id,
                    key,
                    status=202,
                    body=msgspec.json.encode(job_view(row)),
                    now=now,
                    resource_id=row.id,
                    session=session,
                )

        try:
            revision = await self.catalog.current()
            admitted: Admitted = await self.dispatcher.admit(
                auth,
                request,
                revision,
                now=now,
                idempotency_key=idempotency_key,
                on_admitted=on_admitted,
                start_at_once=wait_s > 0,
            )
        except BaseException:
            if idempotency_key is not None:
                await self.idempotency.abandon(auth.tenant_id, idempotency_key)
            raise
        self.executor.enqueue(admitted.row, admitted.task, slot=admitted.slot)
        if admitted.row.webhook is not None:
            self.executor.notify()  # `job.queued` may be waiting in the outbox
        if wait_s > 0:
            ended = await self.executor.wait_ended(admitted.row.id, wait_s)
            if ended is not None:  # the job as its completion batch committed it: no read-back
                job = ended.view or await self.get(auth, admitted.row.id)
                return Submission(job=job, finished=True, images=ended.images)
        return Submission(job=job_view(admitted.row))

    async def _row(self, auth: AuthContext, job_id: str) -> JobRow:
        async with self.sessions() as session:
            row = await session.get(JobRow, job_id)
        if row is None or row.tenant_id != auth.tenant_id:
            raise JobNotFoundError(job_id)
        return row

    async def get(self, auth: AuthContext, job_id: str) -> JobView:
        return job_view(await self._row(auth, job_id))

    async def list_jobs(
        self,
        auth: AuthContext,
        *,
        limit: int = 20,
        cursor: str | None = None,
        filters: JobFilter = JobFilter(),
    ) -> JobPage:
        """The tenant's jobs, newest first; `next_cursor` continues after the last one."""
        rows, next_cursor = await list_rows(
            self.sessions, tenant_id=auth.tenant_id, limit=limit, cursor=cursor, filters=filters
        )
        return JobPage(items=[job_view(r) for r in rows], next_cursor=next_cursor)

    async def cancel(self, auth: AuthContext, job_id: str) -> JobView:
        """Ask the job to stop; a job already ended is returned as it is."""
        row = await self._row(auth, job_id)
        if row.status in TERMINAL:
            return job_view(row)
        if not await self.executor.cancel(job_id):
            async with self.sessions() as session, session.begin():
                await session.execute(update(JobRow).where(JobRow.id == job_id).values(cancel_requested=True))
        return job_view(await self._row(auth, job_id))

    async def erase(self, auth: AuthContext, job_id: str) -> JobView:
        """Erase an ended job's images and prompts (`erasure.erase_job`)."""
        row = await self._row(auth, job_id)
        erased_row = await erase_job(self.sessions, self.store, auth, row, now=self._clock())
        self.hub.forget_ended(job_id)  # its terminal event, kept a while for followers, holds the prompt
        return job_view(erased_row)

    async def webhook_deliveries(self, auth: AuthContext, job_id: str) -> list[MessageState]:
        """The job's webhook delivery log: each event sent, with every attempt."""
        await self._row(auth, job_id)
        async with self.sessions() as session:
            return await messages_for_job(session, job_id, kind=WEBHOOK_KIND)

    async def image(self, auth: AuthContext, job_id: str, index: int) -> bytes:
        row = await self._row(auth, job_id)
        if row.status != "succeeded":
            raise JobStateError(f"job {job_id} is {row.status}; images exist once it succeeded")
        if erased(row):
            raise JobNotFoundError(f"{job_id}/images/{index}: erased")
        if not 0 <= index < row.images:
            raise JobNotFoundError(f"{job_id}/images/{index}")
        try:
            return await self.store.fetch(row.tenant_id, row.id, index)
        except ImageNotFoundError as exc:
            raise JobNotFoundError(f"{job_id}/images/{index}") from exc

    async def linked_image(
        self, job_id: str, index: int, *, tenant_active: Callable[[str], Awaitable[bool]]
    ) -> bytes:
        """The image an image link names (`storage.links`: its signature already checked, so no
        tenant to match): any tenant's job, once it succeeded, while its tenant is active (a
        retired tenant's links stop working with its tokens)."""
        async with self.sessions() as session:
            row = await session.get(JobRow, job_id)
        if row is None or row.status != "succeeded" or erased(row) or not 0 <= index < row.images:
            raise JobNotFoundError(f"{job_id}/images/{index}")
        if not await tenant_active(row.tenant_id):
            raise JobNotFoundError(f"{job_id}/images/{index}")
        try:
            return await self.store.fetch(row.tenant_id, row.id, index)
        except ImageNotFoundError as exc:
            raise JobNotFoundError(f"{job_id}/images/{index}") from exc

    async def events(
        self, auth: AuthContext, job_id: str, *, after: int = 0
    ) -> AsyncIterator[tuple[int, str, dict[str, Any]]]:
        """The job's events as (number, type, data), ending with its terminal event; `after` is
        the last number a reconnecting client saw (SSE `Last-Event-ID`)."""
        row = await self._row(auth, job_id)
        if self.hub.knows(job_id):
            async for event in self.hub.follow(job_id, after):
                yield event.seq, event.type, event.data
            return
        # Not executed here (another gateway, or before a restart): follow the row.
        number = after
        last = None
        while True:
            if row.status != last:
                last = row.status
                number += 1
                if row.status == "queued":
                    yield (
                        number,
                        "queued",
                        {"job_id": job_id, "position": self.executor.queue_position(job_id)},
                    )
                elif row.status == "running":
                    yield number, "started", {"job_id": job_id, "runner": row.runner_id}
                else:
                    yield number, TERMINAL_EVENT[row.status], msgspec.to_builtins(job_view(row))
                    return
            if self.hub.knows(job_id):  # recovered into this process meanwhile
                async for event in self.hub.follow(job_id):
                    yield number + event.seq, event.type, event.data
                return
            await asyncio.sleep(0.5)
            row = await self._row(auth, job_id)


async def list_rows(
    sessions: async_sessionmaker[AsyncSession],
    *,
    tenant_id: str | None,
    limit: int,
    cursor: str | None,
    filters: JobFilter,
) -> tuple[list[JobRow], str | None]:
    """Jobs newest first (one tenant's, or every tenant's with None) and the cursor after the
    last one when there are more."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidQueryError(f"limit must be between 1 and {MAX_PAGE}")
    query = select(JobRow)
    if tenant_id is not None:
        query = query.where(JobRow.tenant_id == tenant_id)
    if filters.status is not None:
        if filters.status not in (*TERMINAL, "queued", "running"):
            raise InvalidQueryError(f"status {filters.status!r} is not a job status")
        query = query.where(JobRow.status == filters.status)
    if filters.model is not None:
        query = query.where(JobRow.model_id == filters.model)
    if filters.runner is not None:
        query = query.where(JobRow.runner_id == filters.runner)
    if filters.since is not None:
        query = query.where(JobRow.created_at >= filters.since)
    if filters.until is not None:
        query = query.where(JobRow.created_at < filters.until)
    if cursor is not None:
        created, job_id = _decode_cursor(cursor)
        query = query.where(
            or_(JobRow.created_at < created, and_(JobRow.created_at == created, JobRow.id < job_id))
        )
    query = query.order_by(JobRow.created_at.desc(), JobRow.id.desc()).limit(limit + 1)
    async with sessions() as session:
        rows = list((await session.scalars(query)).all())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (_encode_cursor(rows[-1]) if more and rows else None)


def _encode_cursor(row: JobRow) -> str:
    text = f"{row.created_at.isoformat()}|{row.id}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, str]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        created, _, job_id = text.partition("|")
        when = dt.datetime.fromisoformat(created)
        if when.tzinfo is None or not job_id:
            raise ValueError
    except ValueError:
        raise InvalidQueryError("cursor is not one this API gave out") from None
    return when, job_id
