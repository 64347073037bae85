"""The licensor usage report worker: the outbox loop with a sender that adds the API key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.delivery.http import OutboundPoster
from gateway.delivery.worker import DeliveryWorker, utc_now
from registry.delivery.licensor_usage import LICENSOR_USAGE_KIND
from registry.delivery.outbox import AttemptResult, ClaimedMessage
from registry.delivery.retry import RetrySchedule


class CredentialsError(ValueError):
    """A licensor credentials setting that cannot be parsed."""


def parse_licensor_credentials(text: str) -> dict[str, str]:
    """`"bfl=bfl_xxx,other=yyy"` (as found in a setting) -> {"bfl": "bfl_xxx", ...}."""
    credentials: dict[str, str] = {}
    for part in text.split(","):
        if not part.strip():
            continue
        name, sep, key = part.partition("=")
        if not sep or not name.strip() or not key.strip():
            raise CredentialsError("licensor credentials: expected name=key pairs separated by commas")
        credentials[name.strip()] = key.strip()
    return credentials


class LicensorUsageSender:
    """POSTs the JSON body with the licensor's `x-key` header (BFL's API key header)."""

    def __init__(self, poster: OutboundPoster, credentials: Mapping[str, str]) -> None:
        self._poster = poster
        self._credentials = dict(credentials)

    async def send(self, message: ClaimedMessage) -> AttemptResult:
        key = self._credentials.get(message.credential_ref or "")
        if not key:
            # Not permanent: once the operator configures the key, the next retry goes through.
            return AttemptResult(error=f"no API key configured for licensor {message.credential_ref!r}")
        headers = {"x-key": key, "Content-Type": "application/json", "Accept": "application/json"}
        return await self._poster.post(message.target_url, message.payload.encode(), headers)


class OutboxWorker(DeliveryWorker):
    """Sends licensor usage reports; restarts pick up where the last process stopped."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        poster: OutboundPoster,
        credentials: Mapping[str, str],
        *,
        schedule: RetrySchedule | None = None,
        poll_interval_s: float = 5.0,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self.poster = poster
        super().__init__(
            sessions,
            {LICENSOR_USAGE_KIND: LicensorUsageSender(poster, credentials)},
            schedule=schedule,
            poll_interval_s=poll_interval_s,
            clock=clock,
        )
