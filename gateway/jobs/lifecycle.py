"""The transitions of a job after admission, each in one transaction with what it causes.

A job ends exactly once: the terminal transition is a conditional UPDATE from an active status,
and only the transaction that wins it appends the `job.outcome` audit event, enqueues the
terminal webhook and the licensor usage reports, and gives back unused quota reservations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.jobs.views import job_view
from gateway.webhooks import WebhookSubscription, enqueue_webhook
from registry.audit import JobOutcome, job_outcome_event
from registry.delivery.licensor_usage import enqueue_usage_report, parse_usage_url
from registry.jobs import quota
from registry.jobs.tables import JobRow
from registry.jobs.writer import JobWriter, Transition, WorkContext
from registry.vocabulary import ObligationKind

ACTIVE = ("queued", "running")
TERMINAL = ("succeeded", "failed", "canceled", "aborted")


def webhook_data(row: JobRow) -> Any:
    return msgspec.to_builtins(job_view(row))


def job_cost(row: JobRow, images: int) -> float | None:
    price = (row.decision or {}).get("price") or {}
    per_image = price.get("per_image_usd")
    per_megapixel = price.get("per_megapixel_usd")
    if per_image is not None:
        return round(float(per_image) * images, 6)
    if per_megapixel is not None:
        return round(float(per_megapixel) * float(price.get("megapixels", 0.0)) * images, 6)
    return None


def outbox_written(row: JobRow) -> bool:
    """Whether the outcome of `row` enqueued outbox messages (a webhook or a licensor usage
    report): only then are the delivery workers woken, since each wake-up is a claiming write
    transaction that would otherwise contend with the job writes for nothing."""
    if row.webhook:
        return True
    if row.status != "succeeded" or row.images <= 0:
        return False
    obligations = (row.decision or {}).get("obligations", [])
    return any(o.get("kind") == ObligationKind.USAGE_METERING.value for o in obligations)


@dataclass
class JobTransitions:
    """Each transition is one unit of work for the `JobWriter`: batched with the other jobs'
    transitions into one transaction and one commit, and answered once durable. A caller that
    holds the job's row (the executor keeps the admitted one) passes it, so no read follows the
    conditional UPDATE; without it the row is read in the same transaction. The caller's copy
    is used as it is: its admission-time columns never change."""

    writer: JobWriter

    async def start(
        self, job_id: str, *, owner: str, now: dt.datetime, row: JobRow | None = None
    ) -> JobRow | None:
        """queued -> running; None when the job is no longer queued (canceled meanwhile)."""

        async def started(context: WorkContext) -> JobRow | None:
            if not context.won:
                return None
            known = row if row is not None else await _read(context.session, job_id)
            known.status, known.started_at, known.owner, known.heartbeat_at = "running", now, owner, now
            if known.webhook:
                await enqueue_webhook(
                    context.session,
                    msgspec.convert(known.webhook, WebhookSubscription),
                    tenant_id=known.tenant_id,
                    job_id=known.id,
                    event_type="job.started",
                    data=webhook_data(known),
                    now=now,
                )
            return known

        values: dict[str, Any] = {"status": "running", "started_at": now, "owner": owner, "heartbeat_at": now}
        return await self.writer.run(started, transition=Transition(job_id, ("queued",), values))

    async def finish(
        self,
        job_id: str,
        status: str,
        *,
        now: dt.datetime,
        images: int = 0,
        error: str | None = None,
        row: JobRow | None = None,
        image_sha256: Sequence[str] = (),
    ) -> JobRow | None:
        """Active -> `status` with its outcome event (which records `image_sha256`, the digests
        of the delivered PNGs); None when another transition won."""
        assert status in TERMINAL
        cost = job_cost(row, images) if row is not None and status == "succeeded" else None

        values: dict[str, Any] = {"status": status, "images": images, "error": error, "finished_at": now}
        if row is not None and status == "succeeded":
            values["cost_usd"] = cost

        async def finished(context: WorkContext) -> JobRow | None:
            if not context.won:
                return None
            known = row if row is not None else await _read(context.session, job_id)
            known.status, known.images, known.error, known.finished_at = status, images, error, now
            if status == "succeeded":
                if row is None:
                    known.cost_usd = job_cost(known, images)
                    await context.session.flush()
                else:
                    known.cost_usd = cost
            await self._consequences(context, known, now, image_sha256)
            return known

        return await self.writer.run(finished, transition=Transition(job_id, ACTIVE, values))

    async def _consequences(
        self, context: WorkContext, row: JobRow, now: dt.datetime, image_sha256: Sequence[str]
    ) -> None:
        """What the end causes; the session is asked for only where a statement needs it."""
        reserved: dict[str, int] = dict(row.reservations or {})
        unused = {agreement: amount - row.images for agreement, amount in reserved.items()}
        if any(amount > 0 for amount in unused.values()):
            await quota.release(context.session, unused, row.usage_month)
        decision = row.decision or {}
        if row.webhook:
            await enqueue_webhook(
                context.session,
                msgspec.convert(row.webhook, WebhookSubscription),
                tenant_id=row.tenant_id,
                job_id=row.id,
                event_type=f"job.{row.status}",
                data=webhook_data(row),
                now=now,
            )
        if row.status == "succeeded" and row.images > 0:
            reported: set[tuple[str, str]] = set()
            for obligation in decision.get("obligations", []):
                if obligation.get("kind") != ObligationKind.USAGE_METERING.value:
                    continue
                endpoint = parse_usage_url(obligation.get("url") or "")
                if endpoint is None or endpoint in reported:
                    continue
                reported.add(endpoint)
                base, slug = endpoint
                await enqueue_usage_report(
                    context.session,
                    job_id=row.id,
                    tenant_id=row.tenant_id,
                    model_slug=slug,
                    number_of_generations=row.images,
                    now=now,
                    base_url=base,
                )
        outcome = JobOutcome(
            job_id=row.id,
            status=row.status,
            images=row.images,
            purpose=row.purpose,
            runner=row.runner_id,
            artifacts=[row.model_id, *(a["id"] for a in row.adapters or [])],
            licenses=list(decision.get("licenses", [])),
            agreements=list(decision.get("agreements", [])),
            output_use=row.output_use,
            image_sha256=list(image_sha256),
        )
        event = job_outcome_event(
            outcome,
            tenant=row.tenant_id,
            actor_subject=row.subject,
            client_id=row.client_id,
            decision_id=row.decision_id,
        )
        context.events.append(event)  # appended last in the batch: it holds the chain lock until commit


async def _read(session: AsyncSession, job_id: str) -> JobRow:
    """The job's row, read in the transaction (for callers that hold no copy of it)."""
    read = await session.get(JobRow, job_id, populate_existing=True)
    assert read is not None
    return read
