"""The background loop shared by every outbox kind: claim due messages, send, record, repeat.

`WebhookDispatcher` and `OutboxWorker` are this loop with different senders, so retries,
backoff, claiming and the delivery log exist once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from registry.db.unreachable import log_failure
from registry.delivery.outbox import AttemptResult, ClaimedMessage, claim_due, record_attempts
from registry.delivery.retry import RetrySchedule

logger = logging.getLogger(__name__)


class Sender(Protocol):
    async def send(self, message: ClaimedMessage) -> AttemptResult: ...


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class DeliveryWorker:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        senders: Mapping[str, Sender],
        *,
        schedule: RetrySchedule | None = None,
        poll_interval_s: float = 1.0,
        batch_size: int = 20,
        lease: dt.timedelta = dt.timedelta(seconds=60),
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._sessions = sessions
        self._senders = dict(senders)
        self.schedule = schedule or RetrySchedule()
        self._poll_interval_s = poll_interval_s
        self._batch_size = batch_size
        self._lease = lease
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()

    async def run_once(self) -> int:
        """Send every message due now (one batch); returns how many were attempted."""
        claimed = await claim_due(
            self._sessions, self._senders, now=self._clock(), limit=self._batch_size, lease=self._lease
        )
        if claimed:
            results = await asyncio.gather(*(self._send(message) for message in claimed))
            await record_attempts(
                self._sessions,
                list(zip(claimed, results, strict=True)),
                now=self._clock(),
                schedule=self.schedule,
            )
        return len(claimed)

    async def _send(self, message: ClaimedMessage) -> AttemptResult:
        try:
            return await self._senders[message.kind].send(message)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a sender bug must not kill the loop; it is logged and retried
            logger.exception("sending outbox message %s failed", message.id)
            return AttemptResult(error=f"internal error: {type(exc).__name__}: {exc}")

    def notify(self) -> None:
        """Wake the loop now (a message was just enqueued) instead of waiting for the next poll."""
        self._wake.set()

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                attempted = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database may be briefly unavailable; keep polling
                log_failure(logger, "outbox poll failed", exc)
                attempted = 0
            if attempted >= self._batch_size:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)

    def start(self) -> asyncio.Task[None]:
        if self._task is None or self._task.done():
            self._stopping.clear()
            self._task = asyncio.create_task(self.run(), name=type(self).__name__)
        return self._task

    async def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            task, self._task = self._task, None
            try:
                await asyncio.wait_for(task, timeout=30)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
