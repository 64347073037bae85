"""Erasing a job at its tenant's request (`DELETE /v1/jobs/{id}`): its images and the text of its
prompts go, what the licenses and the bill need stays.

The prompt is copied into the job row (the request and the runner's task), into the response an
`Idempotency-Key` stored, and into the job view each webhook message carries. All of them are
blanked in one transaction, with a `job.erased` audit event; the audit log itself never held a
prompt, so its chain is untouched. The images are deleted first: should the store fail, nothing
has changed and the erasure can be asked again (it is idempotent).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.auth.context import AuthContext
from gateway.jobs.errors import JobStateError
from gateway.storage import ImageBackend
from registry.audit import EventKind, NewEvent, append_in_session
from registry.delivery.tables import IdempotencyKeyRow, OutboxMessageRow
from registry.jobs.tables import JobRow

PROMPT_FIELDS = ("prompt", "negative_prompt")
"""The free text of a job: what a tenant may ask to have erased."""
ERASED_AT = "erased_at"
"""Set in the job's `request` (its `parameters` in the API) once it is erased."""


def erased(row: JobRow) -> bool:
    return bool((row.request or {}).get(ERASED_AT))


async def erase_job(
    sessions: async_sessionmaker[AsyncSession],
    store: ImageBackend,
    auth: AuthContext,
    row: JobRow,
    *,
    now: dt.datetime,
) -> JobRow:
    """Erase `row` (the caller's tenant's job, already read); the row as it is afterwards."""
    if row.status in ("queued", "running"):
        raise JobStateError(f"job {row.id} is {row.status}: cancel it, then erase it")
    if erased(row):
        return row
    deleted = await store.delete(row.tenant_id, row.id, row.num_images)
    request = {**_blank(row.request or {}), ERASED_AT: now.isoformat()}
    task = _blank(row.task or {})
    async with sessions() as session, session.begin():
        await session.execute(update(JobRow).where(JobRow.id == row.id).values(request=request, task=task))
        await _blank_webhook_payloads(session, row.id)
        await _blank_stored_response(session, row.tenant_id, row.id)
        await append_in_session(
            session,
            [
                NewEvent(
                    kind=EventKind.JOB_ERASED,
                    actor_subject=auth.subject,
                    client_id=auth.client_id,
                    tenant=row.tenant_id,
                    request_id=auth.request_id,
                    job_id=row.id,
                    payload={"job_id": row.id, "images_deleted": deleted, "fields": list(PROMPT_FIELDS)},
                )
            ],
        )
        erased_row = await session.get(JobRow, row.id, populate_existing=True)
    assert erased_row is not None
    return erased_row


def _blank(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: ("" if key in PROMPT_FIELDS and value else value) for key, value in values.items()}


async def _blank_webhook_payloads(session: AsyncSession, job_id: str) -> None:
    """The job view inside each webhook message of the job, sent or still due."""
    messages = await session.scalars(select(OutboxMessageRow).where(OutboxMessageRow.job_id == job_id))
    for message in messages:
        body = msgspec.json.decode(message.payload)
        parameters = (body.get("data") or {}).get("parameters")
        if isinstance(parameters, dict):
            body["data"]["parameters"] = _blank(parameters)
            message.payload = msgspec.json.encode(body).decode()


async def _blank_stored_response(session: AsyncSession, tenant_id: str, job_id: str) -> None:
    """The first response an `Idempotency-Key` replays (the job view, with its parameters)."""
    records = await session.scalars(
        select(IdempotencyKeyRow).where(
            IdempotencyKeyRow.tenant_id == tenant_id, IdempotencyKeyRow.resource_id == job_id
        )
    )
    for record in records:
        if not record.response_body:
            continue
        body = msgspec.json.decode(record.response_body)
        if isinstance(body, dict) and isinstance(body.get("parameters"), dict):
            body["parameters"] = _blank(body["parameters"])
            record.response_body = msgspec.json.encode(body)
