"""The webhook worker: signs each attempt with the tenant's current secret and posts it."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.delivery.http import OutboundPoster
from gateway.delivery.worker import DeliveryWorker, utc_now
from gateway.webhooks.signing import signature_headers
from registry.delivery.outbox import AttemptResult, ClaimedMessage
from registry.delivery.retry import RetrySchedule
from registry.delivery.webhook_secrets import signing_secrets

WEBHOOK_KIND = "webhook"


class WebhookSender:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        poster: OutboundPoster,
        clock: Callable[[], dt.datetime] = utc_now,
        secret_cache_s: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._poster = poster
        self._clock = clock
        self._secret_cache_s = secret_cache_s
        self._secrets: dict[str, tuple[float, tuple[str, ...]]] = {}

    async def _signing(self, tenant_id: str) -> tuple[str, ...]:
        """The tenant's signing secrets, cached briefly: a rotation applies within `secret_cache_s`."""
        cached = self._secrets.get(tenant_id)
        if cached is not None and time.monotonic() - cached[0] < self._secret_cache_s:
            return cached[1]
        secrets = await signing_secrets(self._sessions, tenant_id, now=self._clock())
        self._secrets[tenant_id] = (time.monotonic(), secrets)
        return secrets

    async def send(self, message: ClaimedMessage) -> AttemptResult:
        if message.tenant_id is None:
            return AttemptResult(error="webhook message without a tenant", permanent=True)
        now = self._clock()
        secrets = await self._signing(message.tenant_id)
        body = message.payload.encode()
        headers = signature_headers(secrets, message.id, int(now.timestamp()), body)
        return await self._poster.post(message.target_url, body, headers)


class WebhookDispatcher(DeliveryWorker):
    """Polls due webhook messages (see `DeliveryWorker`); close the poster after `stop()`."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        poster: OutboundPoster,
        *,
        schedule: RetrySchedule | None = None,
        poll_interval_s: float = 1.0,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.poster = poster
        super().__init__(
            sessions,
            {WEBHOOK_KIND: WebhookSender(sessions, poster, clock)},
            schedule=schedule,
            poll_interval_s=poll_interval_s,
            clock=clock,
        )
