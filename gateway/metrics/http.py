"""Requests by method, route template and status, their latency, and the problem details answered,
counted around the whole Litestar app: routing 404s and the bearer middleware's 401s included.

Per request: two clock reads, a counter increment and a histogram observation (dict lookups and
integer additions, see `gateway.metrics.tables`). Only problem details responses
(`application/problem+json`) have their body read, for the problem type.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from gateway.metrics.tables import CounterTable, HistogramTable
from gateway.problems import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
"""Any other method is counted as `other`: the label stays bounded whatever clients send."""
UNMATCHED = "unmatched"
"""The route label of a request that matched no route (a 404 or 405 from the router)."""
_PROBLEM_CONTENT_TYPE = PROBLEM_MEDIA_TYPE.encode()
_MAX_PROBLEM_BYTES = 65_536


class _ProblemType(msgspec.Struct):
    type: str = "about:blank"


_problem_decoder = msgspec.json.Decoder(_ProblemType)


def problem_slug(body: bytes) -> str:
    """The slug of a problem details body's `type` (`license-denied`); `about:blank` when it has
    none, `other` for a type that is not one of ours (the label stays bounded)."""
    try:
        kind = _problem_decoder.decode(body).type
    except msgspec.DecodeError:
        return "other"
    if kind.startswith(PROBLEM_TYPE_PREFIX):
        return kind[len(PROBLEM_TYPE_PREFIX) :]
    return kind if kind == "about:blank" else "other"


class HttpInstruments:
    def __init__(self) -> None:
        self.requests = CounterTable(
            "clearance_http_requests_total",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
        )
        self.latency = HistogramTable(
            "clearance_http_request_duration_seconds",
            "Time from the request's arrival to the end of its response, by method and route template.",
            ["method", "route"],
            LATENCY_BUCKETS,
        )
        self.problems = CounterTable(
            "clearance_http_problems_total",
            "Problem details answered (refusals and errors), by problem type slug and status code.",
            ["problem", "status"],
        )
        self.tables = (self.requests, self.latency, self.problems)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        if method not in METHODS:
            method = "other"
        self.requests.inc((method, route, status))
        self.latency.observe((method, route), seconds)

    def problem(self, status: int, body: bytes) -> None:
        self.problems.inc((problem_slug(body), status))


class _Response:
    """The send side of one request: its status, and the body when it is problem details."""

    __slots__ = ("body", "send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500
        """What the server answers when the app raised before sending anything."""
        self.body: bytearray | None = None

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            if self.status >= 400 and _is_problem(message.get("headers", ())):
                self.body = bytearray()
        elif (
            message["type"] == "http.response.body"
            and self.body is not None
            and len(self.body) < _MAX_PROBLEM_BYTES
        ):
            self.body += message.get("body", b"")
        await self.send(message)


def _is_problem(headers: Any) -> bool:
    return any(name == b"content-type" and value.startswith(_PROBLEM_CONTENT_TYPE) for name, value in headers)


class HttpMetricsMiddleware:
    """Wraps the app's outermost ASGI handler (`instrument_app`), so every HTTP request is seen."""

    def __init__(self, app: ASGIApp, instruments: HttpInstruments) -> None:
        self.app = app
        self.instruments = instruments

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        response = _Response(send)
        try:
            await self.app(scope, receive, response)
        finally:
            instruments = self.instruments
            status = response.status
            instruments.observe(
                scope["method"],
                scope.get("path_template") or UNMATCHED,
                status,
                time.perf_counter() - started,
            )
            if response.body is not None:
                instruments.problem(status, bytes(response.body))
