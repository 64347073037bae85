"""Which job events a tenant asked for, and how one becomes an outbox message.

The payload follows the Standard Webhooks shape: `{"type", "timestamp", "data"}`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from registry.delivery.outbox import NewMessage, enqueue
from registry.netguard import OutboundPolicy, check_url

JOB_EVENT_TYPES = frozenset(
    {"job.queued", "job.started", "job.succeeded", "job.failed", "job.canceled", "job.aborted"}
)
DEFAULT_EVENTS = frozenset({"job.succeeded", "job.failed", "job.canceled", "job.aborted"})
"""What a webhook without a filter receives: the terminal events."""


class WebhookFilterError(ValueError):
    """An event filter naming an event type that does not exist."""


class WebhookSubscription(msgspec.Struct, kw_only=True, frozen=True):
    """The webhook of one job: where to send, and which events (None: the terminal ones)."""

    url: str
    events: tuple[str, ...] | None = None

    def validate(self, policy: OutboundPolicy) -> None:
        """Syntactic checks at submission (scheme, userinfo, host form); DNS is checked at send time."""
        check_url(self.url, policy)
        for event in self.events or ():
            if event not in JOB_EVENT_TYPES and event not in {"job.*", "*"}:
                known = ", ".join(sorted(JOB_EVENT_TYPES))
                raise WebhookFilterError(f"webhook.events: unknown event type {event!r}; known: {known}")

    def wants(self, event_type: str) -> bool:
        if not self.events:
            return event_type in DEFAULT_EVENTS
        return any(
            e in {"*", event_type} or (e == "job.*" and event_type.startswith("job.")) for e in self.events
        )


async def enqueue_webhook(
    session: AsyncSession,
    subscription: WebhookSubscription,
    *,
    tenant_id: str,
    job_id: str,
    event_type: str,
    data: Any,
    now: dt.datetime,
) -> str | None:
    """Add the event to the outbox in the caller's transaction; None when the filter drops it."""
    if not subscription.wants(event_type):
        return None
    body = msgspec.json.encode({"type": event_type, "timestamp": now.isoformat(), "data": data})
    return await enqueue(
        session,
        NewMessage(
            kind="webhook",
            target_url=subscription.url,
            payload=body.decode(),
            tenant_id=tenant_id,
            job_id=job_id,
            event_type=event_type,
            dedupe_key=f"webhook:{job_id}:{event_type}",
        ),
        now=now,
    )
