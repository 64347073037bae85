"""`/v1/jobs`: HTTP in and out only; the work is `JobService`'s."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, Parameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from gateway.api.instants import utc_instant
from gateway.auth.context import AuthContext
from gateway.auth.scopes import Scope
from gateway.jobs.schemas import JobPage, JobRequest, JobView
from gateway.jobs.service import JobFilter, JobService
from registry.delivery.outbox import MessageState

JOBS_RUNTIME_STATE_KEY = "jobs_runtime"
_PREFER_WAIT = re.compile(r"(?:^|[,;\s])wait\s*=\s*(\d+)", re.IGNORECASE)


def provide_job_service(state: State, auth: NamedDependency[AuthContext]) -> JobService:
    """The jobs service, resolved after `auth` (which every jobs route has anyway): two
    dependencies of the same level make Litestar resolve them in an anyio task group, a few
    tasks per request on the hottest routes; in a chain each is a plain call."""
    del auth
    service: JobService = state[JOBS_RUNTIME_STATE_KEY].service
    return service


def prefer_wait(header: str | None, limit: float) -> float:
    """Seconds asked by `Prefer: wait=N` (RFC 7240), capped at `limit`; 0 when absent."""
    if not header:
        return 0.0
    match = _PREFER_WAIT.search(header)
    return min(float(match.group(1)), limit) if match else 0.0


def _json(view: Any, status: int, headers: dict[str, str] | None = None) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(view), status_code=status, media_type="application/json", headers=headers
    )


class JobsController(Controller):
    path = "/jobs"
    tags = ["jobs"]
    dependencies = {"jobs": Provide(provide_job_service, sync_to_thread=False)}

    @post(
        "/",
        opt={"scope": Scope.JOBS_WRITE},
        status_code=202,
        responses={
            200: ResponseSpec(data_container=JobView, description="The job ended within `Prefer: wait=N`."),
            403: ResponseSpec(
                data_container=dict[str, Any], description="No runner is permitted (problem details)."
            ),
        },
    )
    async def submit(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[JobRequest],
        auth: NamedDependency[AuthContext],
        jobs: NamedDependency[JobService],
        prefer: Annotated[str | None, HeaderParameter(name="Prefer")] = None,
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
    ) -> Response[bytes]:
        """Submit a generation job: 202 with the job and its URLs, or 200 with the finished job
        when `Prefer: wait=N` is given and it ends within N seconds."""
        limit = jobs.dispatcher.limits.max_wait_s
        wait = prefer_wait(prefer, limit)
        body = await request.body() if idempotency_key is not None else None
        result = await jobs.submit(auth, data, wait_s=wait, idempotency_key=idempotency_key, body=body)
        if result.replay is not None:
            return Response(
                content=result.replay.body,
                status_code=result.replay.status,
                media_type=result.replay.content_type or "application/json",
                headers={"Idempotent-Replayed": "true"},
            )
        assert result.job is not None
        headers = {"Location": result.job.links.status}
        if result.finished:
            headers["Preference-Applied"] = f"wait={int(wait)}"
            return _json(result.job, 200, headers)
        return _json(result.job, 202, headers)

    @get("/", opt={"scope": Scope.JOBS_READ})
    async def list_jobs(
        self,
        auth: NamedDependency[AuthContext],
        jobs: NamedDependency[JobService],
        limit: int = Parameter(default=20, ge=1, le=100),
        cursor: FromQuery[str | None] = None,
        status: FromQuery[str | None] = None,
        model: FromQuery[str | None] = None,
        since: FromQuery[dt.datetime | None] = None,
    ) -> JobPage:
        """The tenant's jobs, newest first."""
        return await jobs.list_jobs(
            auth,
            limit=limit,
            cursor=cursor,
            filters=JobFilter(status=status, model=model, since=utc_instant("since", since)),
        )

    @get("/{job_id:str}", opt={"scope": Scope.JOBS_READ})
    async def get_job(
        self, job_id: FromPath[str], auth: NamedDependency[AuthContext], jobs: NamedDependency[JobService]
    ) -> JobView:
        return await jobs.get(auth, job_id)

    @post("/{job_id:str}/cancel", opt={"scope": Scope.JOBS_WRITE}, status_code=202)
    async def cancel(
        self, job_id: FromPath[str], auth: NamedDependency[AuthContext], jobs: NamedDependency[JobService]
    ) -> JobView:
        return await jobs.cancel(auth, job_id)

    @delete("/{job_id:str}", opt={"scope": Scope.JOBS_WRITE}, status_code=200)
    async def erase(
        self, job_id: FromPath[str], auth: NamedDependency[AuthContext], jobs: NamedDependency[JobService]
    ) -> JobView:
        """Erase an ended job's images and the text of its prompts (409 while it is queued or
        running); its decision, licenses, cost and audit trail stay. Asked again: the same answer."""
        return await jobs.erase(auth, job_id)

    @get("/{job_id:str}/webhooks", opt={"scope": Scope.JOBS_READ})
    async def webhook_deliveries(
        self, job_id: FromPath[str], auth: NamedDependency[AuthContext], jobs: NamedDependency[JobService]
    ) -> list[MessageState]:
        """The job's webhook delivery log (events, attempts, status codes, errors)."""
        return await jobs.webhook_deliveries(auth, job_id)

    @get("/{job_id:str}/images/{index:int}", opt={"scope": Scope.JOBS_READ}, media_type="image/png")
    async def image(
        self,
        job_id: FromPath[str],
        index: FromPath[int],
        auth: NamedDependency[AuthContext],
        jobs: NamedDependency[JobService],
    ) -> Response[bytes]:
        png = await jobs.image(auth, job_id, index)
        return Response(
            content=png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
        )

    @get("/{job_id:str}/events", opt={"scope": Scope.JOBS_READ})
    async def events(
        self,
        job_id: FromPath[str],
        auth: NamedDependency[AuthContext],
        jobs: NamedDependency[JobService],
        last_event_id: Annotated[str | None, HeaderParameter(name="Last-Event-ID")] = None,
    ) -> ServerSentEvent:
        """Server-Sent Events: queued (with position), started, progress per step, each image,
        then completed, failed, canceled or aborted. `Last-Event-ID` resumes after that event."""
        after = int(last_event_id) if last_event_id and last_event_id.isdigit() else 0
        stream = jobs.events(auth, job_id, after=after)
        first = await anext(stream, None)  # a foreign or unknown job answers 404 before streaming

        async def messages() -> AsyncIterator[ServerSentEventMessage]:
            if first is None:
                return
            yield _message(first)
            async for item in stream:
                yield _message(item)

        return ServerSentEvent(messages(), headers={"Cache-Control": "no-store"})


def _message(item: tuple[int, str, dict[str, Any]]) -> ServerSentEventMessage:
    number, type_, data = item
    return ServerSentEventMessage(event=type_, data=msgspec.json.encode(data).decode(), id=number)
