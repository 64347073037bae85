"""One synchronous image generation through `JobService`: the same policy, quota, durable
audit and runner as `POST /v1/jobs`, answered in the OpenAI Images shape once the job ended."""

from __future__ import annotations

import base64
import time

import msgspec

from gateway.auth.context import AuthContext
from gateway.images.errors import GenerationFailedError, GenerationPendingError
from gateway.images.schemas import ImageData, ImagesResponse, ResponseFormat
from gateway.jobs.errors import JobNotFoundError
from gateway.jobs.schemas import JobRequest, JobView
from gateway.jobs.service import JobService
from gateway.storage import ImageNotFoundError
from gateway.storage.links import ImageLinks


async def generate_images(
    jobs: JobService,
    auth: AuthContext,
    request: JobRequest,
    *,
    response_format: ResponseFormat,
    base_url: str,
    links: ImageLinks,
    idempotency_key: str | None = None,
    body: bytes | None = None,
) -> ImagesResponse:
    """Submit, wait up to the jobs API's longest wait, and answer with the images.

    With an `Idempotency-Key`, a retry of the same request (the openai client retries on
    timeouts) follows the job the first attempt admitted instead of admitting another."""
    wait_s = jobs.dispatcher.limits.max_wait_s
    submitted = await jobs.submit(auth, request, wait_s=wait_s, idempotency_key=idempotency_key, body=body)
    if submitted.replay is not None:
        job_id = submitted.replay.resource_id or msgspec.json.decode(submitted.replay.body)["id"]
        await jobs.executor.wait(job_id, wait_s)  # False when over or elsewhere: the row says
        job = await jobs.get(auth, job_id)
    else:
        assert submitted.job is not None
        job = submitted.job
    if job.status in ("queued", "running"):
        raise GenerationPendingError(job.id, wait_s)
    if job.status != "succeeded":
        raise GenerationFailedError(job.id, job.status, job.error)
    if response_format == "b64_json" and submitted.images and len(submitted.images) == len(job.images):
        data = [ImageData(b64_json=base64.b64encode(png).decode()) for png in submitted.images]
    else:
        data = [
            await _image(jobs, auth, job, n, response_format, base_url, links) for n in range(len(job.images))
        ]
    return ImagesResponse(
        created=int(job.created_at.timestamp()),
        data=data,
        job_id=job.id,
        decision_id=job.decision.id,
    )


async def _image(
    jobs: JobService,
    auth: AuthContext,
    job: JobView,
    index: int,
    response_format: ResponseFormat,
    base_url: str,
    links: ImageLinks,
) -> ImageData:
    if response_format == "url":  # as OpenAI's: fetched without credentials, for a while
        return ImageData(url=base_url.rstrip("/") + links.path(job.id, index, now=time.time()))
    # The job was just read for this tenant and succeeded (but not in this request: then its
    # PNGs came back with it): read the stored PNG without reading its row again.
    try:
        png = await jobs.store.fetch(auth.tenant_id, job.id, index)
    except ImageNotFoundError as exc:
        raise JobNotFoundError(f"{job.id}/images/{index}") from exc
    return ImageData(b64_json=base64.b64encode(png).decode())
