"""Webhook and licensor-report delivery attempts by outcome, counted where they go out: the
delivery workers' `OutboundPoster`."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.delivery.http import OutboundPoster
from gateway.metrics.tables import CounterTable
from registry.delivery.outbox import AttemptResult
from registry.netguard import OutboundPolicy

OUTCOMES = ("delivered", "http_error", "network_error", "refused")
"""`delivered`: a 2xx answer; `http_error`: any other status; `network_error`: no answer (timeout,
connection); `refused`: the outbound guard refused the URL (never retried)."""


class DeliveryInstruments:
    def __init__(self) -> None:
        self.attempts = CounterTable(
            "clearance_delivery_attempts_total",
            "Webhook and licensor-report delivery attempts sent by this process, by kind and outcome.",
            ["kind", "outcome"],
        )
        self.tables = (self.attempts,)

    def poster(self, kind: str, policy: OutboundPolicy) -> OutboundPoster:
        for result in OUTCOMES:  # every outcome is exposed from the start, at 0
            self.attempts.inc((kind, result), 0)
        return ObservedPoster(policy, kind, self.attempts)


class ObservedPoster(OutboundPoster):
    def __init__(self, policy: OutboundPolicy, kind: str, attempts: CounterTable) -> None:
        super().__init__(policy)
        self._kind = kind
        self._attempts = attempts

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        result = await super().post(url, body, headers)
        self._attempts.inc((self._kind, outcome(result)))
        return result


def outcome(result: AttemptResult) -> str:
    if result.delivered:
        return "delivered"
    if result.status_code is not None:
        return "http_error"
    return "refused" if result.permanent else "network_error"
