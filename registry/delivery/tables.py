"""ORM tables of durable delivery (migration 0004_delivery)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base, UtcDateTime


class OutboxMessageRow(Base):
    """One message to POST somewhere, retried until delivered or the schedule is exhausted.

    Webhooks (`kind="webhook"`) and licensor usage reports (`kind="licensor_usage"`) share this
    table so that claiming, backoff and the delivery log have one implementation. A message is
    due when `next_attempt_at <= now`; claiming pushes `next_attempt_at` forward by a lease, so
    a worker that dies mid-send leaves the message due again once the lease ends.
    """

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_due", "kind", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    """Also the `webhook-id` header: constant across retries so receivers can deduplicate."""
    kind: Mapped[str] = mapped_column(String(32))
    tenant_id: Mapped[str | None] = mapped_column(String(200), index=True)
    job_id: Mapped[str | None] = mapped_column(String(64), index=True)
    event_type: Mapped[str | None] = mapped_column(String(64))
    target_url: Mapped[str] = mapped_column(String(2048))
    payload: Mapped[str] = mapped_column(Text)
    """The exact request body (JSON text), signed byte for byte."""
    credential_ref: Mapped[str | None] = mapped_column(String(64))
    """Name of a credential in the settings (never the secret itself)."""
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    """None once delivered or given up."""
    claim_token: Mapped[str | None] = mapped_column(String(64))
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    gave_up_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())


class DeliveryAttemptRow(Base):
    """The delivery log: one row per attempt, with its time and HTTP status or error."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(ForeignKey("outbox_messages.id", ondelete="CASCADE"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)


class WebhookSecretRow(Base):
    """A tenant's Standard Webhooks signing secret (`whsec_` + base64 of 32 random bytes)."""

    __tablename__ = "webhook_secrets"

    tenant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    secret: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    previous_secret: Mapped[str | None] = mapped_column(String(128), default=None)
    """The secret before the last rotation, which still signs beside `secret` until `previous_until`."""
    previous_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), default=None)


class IdempotencyKeyRow(Base):
    """The first response to a POST carrying `Idempotency-Key`, scoped per tenant."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (CheckConstraint("state IN ('in_progress', 'done')", name="state"),)

    tenant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16))
    """`in_progress` until the response is recorded, then `done`."""
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    response_content_type: Mapped[str | None] = mapped_column(String(100))
    resource_id: Mapped[str | None] = mapped_column(String(64))
    """The id of what the first request created (the job), for the caller's convenience."""
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
