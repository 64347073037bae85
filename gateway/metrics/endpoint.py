"""`GET /metrics`: the Prometheus exposition of this process, for a scraper holding the metrics
token (`CLEARANCE_METRICS_TOKEN`). Mounted only when the token is set, and outside the OAuth
bearer middleware: the scraper is not an OAuth client."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from litestar import Request, Response, get
from litestar.handlers import HTTPRouteHandler
from prometheus_client.exposition import choose_encoder

from gateway.auth.errors import AuthenticationRequiredError, InvalidTokenError
from gateway.auth.middleware import EXCLUDE_FROM_AUTH
from gateway.metrics.instruments import GatewayMetrics

METRICS_PATH = "/metrics"


def metrics_route(
    metrics: GatewayMetrics, token: str, check_health: Callable[[], Awaitable[None]]
) -> HTTPRouteHandler:
    """The scrape route; `check_health` refreshes the runners' health before they are read."""
    expected = token.encode()

    @get(METRICS_PATH, opt={EXCLUDE_FROM_AUTH: True}, include_in_schema=False)
    async def scrape(request: Request[Any, Any, Any]) -> Response[bytes]:
        authorize(request.headers.get("authorization"), expected)
        await check_health()
        encode, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encode(metrics.registry), media_type=content_type)

    return scrape


def authorize(header: str | None, expected: bytes) -> None:
    """Answered like the API's own bearer check: 401 `authentication-required` without a bearer
    token, 401 `invalid-token` for any other token than the metrics token."""
    if not header:
        raise AuthenticationRequiredError("no Authorization header")
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise AuthenticationRequiredError("Authorization is not a Bearer token")
    if not hmac.compare_digest(presented.strip().encode(), expected):
        raise InvalidTokenError("not the metrics token")
