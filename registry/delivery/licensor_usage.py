"""Usage reports owed to licensors (BFL's metering endpoint is the real example), via the outbox.

The report is enqueued in the same transaction as the job's outcome, so no successful job can
end without its report; `dedupe_key` makes the enqueue idempotent per job and model. The API
key is named by `credential_ref` and looked up in the settings at send time: it is never stored
in the database and never taken from a request.
"""

from __future__ import annotations

import datetime as dt
import re

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from registry.delivery.outbox import NewMessage, enqueue

LICENSOR_USAGE_KIND = "licensor_usage"
BFL_BASE_URL = "https://api.bfl.ai"
BFL_CREDENTIAL = "bfl"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")


class UsageReportError(ValueError):
    """A usage report that cannot be sent as asked (bad model slug or count)."""


class UsagePayload(msgspec.Struct, frozen=True):
    number_of_generations: int


_USAGE_URL = re.compile(r"^(?P<base>https?://[^/]+)/v1/licenses/models/(?P<slug>[a-z0-9][a-z0-9._-]*)/usage$")


def parse_usage_url(url: str) -> tuple[str, str] | None:
    """`(base URL, model slug)` of a licensor metering endpoint in BFL's form, as a usage-metering
    obligation names it; None for any other URL (no report is sent for it)."""
    match = _USAGE_URL.match(url)
    return (match["base"], match["slug"]) if match is not None else None


def bfl_usage_url(model_slug: str, base_url: str = BFL_BASE_URL) -> str:
    if not _SLUG.match(model_slug):
        raise UsageReportError(f"licensor model slug {model_slug!r} is not a valid slug")
    return f"{base_url.rstrip('/')}/v1/licenses/models/{model_slug}/usage"


async def enqueue_usage_report(
    session: AsyncSession,
    *,
    job_id: str,
    tenant_id: str | None,
    model_slug: str,
    number_of_generations: int,
    now: dt.datetime,
    credential_ref: str = BFL_CREDENTIAL,
    base_url: str = BFL_BASE_URL,
) -> str:
    """Queue `POST {base}/v1/licenses/models/{slug}/usage` in the caller's transaction."""
    if number_of_generations < 1:
        raise UsageReportError(f"number_of_generations must be at least 1, got {number_of_generations}")
    return await enqueue(
        session,
        NewMessage(
            kind=LICENSOR_USAGE_KIND,
            target_url=bfl_usage_url(model_slug, base_url),
            payload=msgspec.json.encode(UsagePayload(number_of_generations)).decode(),
            tenant_id=tenant_id,
            job_id=job_id,
            event_type=model_slug,
            credential_ref=credential_ref,
            dedupe_key=f"{LICENSOR_USAGE_KIND}:{job_id}:{model_slug}",
        ),
        now=now,
    )
