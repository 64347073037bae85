"""ORM tables of generation jobs (migration 0005_jobs)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base, JsonDocument, UtcDateTime

JOB_STATUSES = ("queued", "running", "succeeded", "failed", "canceled", "aborted")


class JobRow(Base):
    """One generation job, from the dispatch transaction that creates it to its one outcome.

    `task` is the fully resolved runner task (weights pinned, defaults applied) as JSON, so a
    job re-dispatched after a restart runs exactly what was decided. `owner` and
    `heartbeat_at` form a lease: the gateway process executing a queued or running job renews
    it; a job whose lease ran out is taken over (queued) or failed (running) by another.
    """

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_tenant_created", "tenant_id", "created_at", "id"),
        Index("ix_jobs_active", "status", "heartbeat_at"),
        Index("ix_jobs_created", "created_at", "id"),
        CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'failed', 'canceled', 'aborted')", name="status"
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(200))
    client_id: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    model_id: Mapped[str] = mapped_column(String(200))
    adapters: Mapped[Any] = mapped_column(JsonDocument)
    """`[{"id": ..., "scale": ...}]` in the order they are applied."""
    runner_id: Mapped[str] = mapped_column(String(200))
    decision_id: Mapped[str] = mapped_column(String(64))
    decision: Mapped[Any] = mapped_column(JsonDocument)
    """What the job relied on: decision, licenses, agreements, obligations (for outcome and provenance)."""
    purpose: Mapped[str] = mapped_column(String(32))
    output_use: Mapped[str] = mapped_column(String(32))
    request: Mapped[Any] = mapped_column(JsonDocument)
    """The parameters as resolved (prompt, size, steps, ...), served back by the API."""
    task: Mapped[Any] = mapped_column(JsonDocument)
    webhook: Mapped[Any | None] = mapped_column(JsonDocument, nullable=True)
    reservations: Mapped[Any] = mapped_column(JsonDocument)
    """`{agreement_id: images}` reserved on the usage counters of `usage_month`."""
    usage_month: Mapped[str] = mapped_column(String(7))
    num_images: Mapped[int] = mapped_column(Integer)
    images: Mapped[int] = mapped_column(Integer, default=0)
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), nullable=True)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    cancel_reason: Mapped[str | None] = mapped_column(String(300), nullable=True)
    """Why the operator canceled it (its `error` then says so); None when its tenant did."""
    restarts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    """Times the job was put back in the queue after the gateway running it stopped."""
    owner: Mapped[str | None] = mapped_column(String(64), nullable=True)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    deadline_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime(), nullable=True)


class UsageCounterRow(Base):
    """Images reserved on one agreement in one month (UTC), the ground of quota enforcement.

    Reservations are a conditional UPDATE (`used + n <= quota`), atomic on SQLite and on
    PostgreSQL whatever the number of gateway processes; a job that ends without images gives
    its reservation back in the transaction that records its outcome.
    """

    __tablename__ = "usage_counters"
    __table_args__ = (CheckConstraint("used >= 0", name="used_non_negative"),)

    agreement_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class TenantRateWindowRow(Base):
    """Job submissions granted to one tenant in one minute (migration 0008), across every gateway
    process sharing the database: processes lease them in chunks (`registry.jobs.rate`)."""

    __tablename__ = "tenant_rate_windows"
    __table_args__ = (CheckConstraint("used >= 0", name="used_non_negative"),)

    tenant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    minute: Mapped[int] = mapped_column(Integer, primary_key=True)
    """Minutes since the Unix epoch (UTC)."""
    used: Mapped[int] = mapped_column(Integer, default=0)


class TenantSlotLeaseRow(Base):
    """Running-job slots of one tenant held by one gateway process (migration 0009): the sum
    over the processes that renewed their rows within the job lease never exceeds the tenant's
    concurrency limit (`registry.jobs.slots`)."""

    __tablename__ = "tenant_slot_leases"
    __table_args__ = (CheckConstraint("held >= 0", name="held_non_negative"),)

    tenant_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The process's name on its job leases (`JobRow.owner`)."""
    held: Mapped[int] = mapped_column(Integer, default=0)
    renewed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
