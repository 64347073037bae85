"""The durable outbox: enqueue in the caller's transaction, claim safely, record each attempt.

One implementation serves every kind of message (webhooks, licensor usage reports). Claiming is
a single UPDATE whose subquery picks due rows (`FOR UPDATE SKIP LOCKED` on PostgreSQL; on SQLite
the statement itself takes the write lock), so several gateway processes never send one message
twice at the same time. The claim pushes `next_attempt_at` forward by a lease: a worker that dies
mid-send leaves the message due again once the lease ends; a stale worker's late result is
ignored because its claim token no longer matches.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable, Sequence

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.delivery.retry import RetrySchedule
from registry.delivery.tables import DeliveryAttemptRow, OutboxMessageRow

MAX_ERROR_LENGTH = 500


class NewMessage(msgspec.Struct, kw_only=True, frozen=True):
    kind: str
    target_url: str
    payload: str
    """The exact body to send (JSON text)."""
    tenant_id: str | None = None
    job_id: str | None = None
    event_type: str | None = None
    credential_ref: str | None = None
    dedupe_key: str | None = None
    """When set, enqueueing the same key again returns the first message's id."""
    id: str | None = None


class ClaimedMessage(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    kind: str
    target_url: str
    payload: str
    tenant_id: str | None
    job_id: str | None
    event_type: str | None
    credential_ref: str | None
    attempt: int
    """The number of the attempt about to be made (1 for the first)."""
    claim_token: str


class AttemptResult(msgspec.Struct, kw_only=True, frozen=True):
    status_code: int | None = None
    error: str | None = None
    duration_ms: int = 0
    permanent: bool = False
    """Never worth retrying (the URL is refused by the outbound guard): give up now."""

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryAttempt(msgspec.Struct, kw_only=True, frozen=True):
    message_id: str
    attempt: int
    attempted_at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: int


class MessageState(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    kind: str
    job_id: str | None
    event_type: str | None
    target_url: str
    attempts: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    gave_up_at: dt.datetime | None
    last_status: int | None
    last_error: str | None
    log: tuple[DeliveryAttempt, ...] = ()


def new_message_id() -> str:
    return f"msg_{secrets.token_hex(12)}"


async def enqueue(session: AsyncSession, message: NewMessage, *, now: dt.datetime) -> str:
    """Add a message in the caller's transaction (commit it together with what caused it)."""
    if message.dedupe_key is not None:
        existing = await session.scalar(
            select(OutboxMessageRow.id).where(OutboxMessageRow.dedupe_key == message.dedupe_key)
        )
        if existing is not None:
            return existing
    message_id = message.id or new_message_id()
    session.add(
        OutboxMessageRow(
            id=message_id,
            kind=message.kind,
            tenant_id=message.tenant_id,
            job_id=message.job_id,
            event_type=message.event_type,
            target_url=message.target_url,
            payload=message.payload,
            credential_ref=message.credential_ref,
            dedupe_key=message.dedupe_key,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    await session.flush()
    return message_id


async def claim_due(
    sessions: async_sessionmaker[AsyncSession],
    kinds: Iterable[str],
    *,
    now: dt.datetime,
    limit: int = 20,
    lease: dt.timedelta = dt.timedelta(seconds=60),
) -> list[ClaimedMessage]:
    """Claim up to `limit` due messages of `kinds` for this worker, in their own transaction."""
    token = secrets.token_hex(16)
    kinds = list(kinds)
    async with sessions() as session, session.begin():
        due = (
            select(OutboxMessageRow.id)
            .where(OutboxMessageRow.kind.in_(kinds), OutboxMessageRow.next_attempt_at <= now)
            .order_by(OutboxMessageRow.next_attempt_at)
            .limit(limit)
        )
        if (await session.connection()).dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        await session.execute(
            update(OutboxMessageRow)
            .where(OutboxMessageRow.id.in_(due.scalar_subquery()), OutboxMessageRow.next_attempt_at <= now)
            .values(claim_token=token, next_attempt_at=now + lease)
            .execution_options(synchronize_session=False)
        )
        rows = (
            await session.scalars(select(OutboxMessageRow).where(OutboxMessageRow.claim_token == token))
        ).all()
    return [
        ClaimedMessage(
            id=row.id,
            kind=row.kind,
            target_url=row.target_url,
            payload=row.payload,
            tenant_id=row.tenant_id,
            job_id=row.job_id,
            event_type=row.event_type,
            credential_ref=row.credential_ref,
            attempt=row.attempts + 1,
            claim_token=token,
        )
        for row in rows
    ]


async def record_attempt(
    sessions: async_sessionmaker[AsyncSession],
    message: ClaimedMessage,
    result: AttemptResult,
    *,
    now: dt.datetime,
    schedule: RetrySchedule,
) -> bool:
    """Log the attempt and reschedule, deliver or give up; False when the claim had been lost."""
    [kept] = await record_attempts(sessions, [(message, result)], now=now, schedule=schedule)
    return kept


async def record_attempts(
    sessions: async_sessionmaker[AsyncSession],
    outcomes: Sequence[tuple[ClaimedMessage, AttemptResult]],
    *,
    now: dt.datetime,
    schedule: RetrySchedule,
) -> list[bool]:
    """`record_attempt` for a whole batch in one transaction (one commit, one fsync)."""
    kept: list[bool] = []
    async with sessions() as session, session.begin():
        for message, result in outcomes:
            error = result.error[:MAX_ERROR_LENGTH] if result.error else None
            values: dict[str, object] = {
                "attempts": message.attempt,
                "last_status": result.status_code,
                "last_error": error,
                "claim_token": None,
            }
            if result.delivered:
                values.update(delivered_at=now, next_attempt_at=None)
            else:
                retry_at = None if result.permanent else schedule.next_attempt_after(message.attempt, now)
                values.update(next_attempt_at=retry_at, gave_up_at=now if retry_at is None else None)
            session.add(
                DeliveryAttemptRow(
                    message_id=message.id,
                    attempt=message.attempt,
                    attempted_at=now,
                    status_code=result.status_code,
                    error=error,
                    duration_ms=result.duration_ms,
                )
            )
            outcome = await session.execute(
                update(OutboxMessageRow)
                .where(OutboxMessageRow.id == message.id, OutboxMessageRow.claim_token == message.claim_token)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            kept.append(bool(getattr(outcome, "rowcount", 0)))
    return kept


async def messages_for_job(
    session: AsyncSession, job_id: str, *, kind: str | None = None
) -> list[MessageState]:
    """The delivery log of a job: each message with its attempts, oldest first."""
    query = select(OutboxMessageRow).where(OutboxMessageRow.job_id == job_id)
    if kind is not None:
        query = query.where(OutboxMessageRow.kind == kind)
    rows = (await session.scalars(query.order_by(OutboxMessageRow.created_at, OutboxMessageRow.id))).all()
    return [await _state(session, row) for row in rows]


class Redrive(msgspec.Struct, kw_only=True, frozen=True):
    """A message as `retry_now` found it."""

    kind: str
    tenant_id: str | None
    delivered: bool
    """Already delivered: left as it was."""
    next_attempt_at: dt.datetime | None
    gave_up_at: dt.datetime | None


async def retry_now(session: AsyncSession, message_id: str, *, now: dt.datetime) -> Redrive | None:
    """Make a message not yet delivered due now, in the caller's transaction: a given-up one gets
    one more attempt (given up again if it fails, its schedule being spent), a pending one is
    tried without waiting for its next retry. None when there is no such message."""
    row = await session.get(OutboxMessageRow, message_id)
    if row is None:
        return None
    found = Redrive(
        kind=row.kind,
        tenant_id=row.tenant_id,
        delivered=row.delivered_at is not None,
        next_attempt_at=row.next_attempt_at,
        gave_up_at=row.gave_up_at,
    )
    if not found.delivered:
        await session.execute(
            update(OutboxMessageRow)
            .where(OutboxMessageRow.id == message_id, OutboxMessageRow.delivered_at.is_(None))
            .values(next_attempt_at=now, gave_up_at=None)
            .execution_options(synchronize_session=False)
        )
    return found


async def message_state(session: AsyncSession, message_id: str) -> MessageState | None:
    row = await session.get(OutboxMessageRow, message_id)
    return None if row is None else await _state(session, row)


async def _state(session: AsyncSession, row: OutboxMessageRow) -> MessageState:
    attempts: Sequence[DeliveryAttemptRow] = (
        await session.scalars(
            select(DeliveryAttemptRow)
            .where(DeliveryAttemptRow.message_id == row.id)
            .order_by(DeliveryAttemptRow.attempt, DeliveryAttemptRow.id)
        )
    ).all()
    return MessageState(
        id=row.id,
        kind=row.kind,
        job_id=row.job_id,
        event_type=row.event_type,
        target_url=row.target_url,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
        gave_up_at=row.gave_up_at,
        last_status=row.last_status,
        last_error=row.last_error,
        log=tuple(
            DeliveryAttempt(
                message_id=a.message_id,
                attempt=a.attempt,
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
            )
            for a in attempts
        ),
    )
