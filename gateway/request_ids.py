"""Every HTTP request gets an id: the client's `X-Request-ID` when it is a sensible token (1 to 128
characters of letters, digits and `._:/+=-`), else one made here (16 hex digits). It is echoed
in the response's `X-Request-ID` and recorded as `request_id` on the audit events the request
causes (policy decisions, admin changes), so a client's request can be found in the audit log
(`GET /v1/audit?request_id=...`).

It wraps the app's outermost ASGI handler, like the metrics, so answers that never reach a route
(a 401 from the bearer middleware, a 404 from the router) carry the header too. Log records made
in the request's own task (uvicorn's access log line among them) get a `request_id` attribute
(`RequestIdLogFilter`, in the JSON logs); tasks the request starts inherit its context but not
its id, since a job's run outlives the request that happened to start it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
from contextvars import ContextVar

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-request-id"
SCOPE_KEY = "clearance.request_id"
"""Where the id is kept in the ASGI scope, for the bearer middleware (`AuthContext.request_id`)."""
_ACCEPTED = re.compile(rb"[A-Za-z0-9._:/+=-]{1,128}")
_CURRENT: ContextVar[tuple[asyncio.Task[object] | None, str] | None] = ContextVar(
    "clearance_request_id", default=None
)
"""(the task serving the request, its id)."""


def request_id_of(scope: Scope) -> str | None:
    value = scope.get(SCOPE_KEY)
    return value if isinstance(value, str) else None


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == HEADER:
                given = value
                break
        raw = given if given is not None and _ACCEPTED.fullmatch(given) else os.urandom(8).hex().encode()
        request_id = raw.decode()
        scope[SCOPE_KEY] = request_id  # type: ignore[literal-required]
        echoed = (HEADER, raw)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), echoed]
            await send(message)

        current = _CURRENT.set((asyncio.current_task(), request_id))
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            _CURRENT.reset(current)


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to records made in the task serving a request (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        serving = _CURRENT.get()
        if serving is not None:
            try:
                task = asyncio.current_task()
            except RuntimeError:  # no running loop: not the request's task
                task = None
            if task is not None and task is serving[0]:
                record.request_id = serving[1]
        return True
