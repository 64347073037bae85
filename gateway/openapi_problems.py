"""The served OpenAPI document says how the API answers errors: as RFC 9457 problem details
(`application/problem+json`), with the status codes each operation can give, and which
operations need no token.

Litestar documents one error per operation by itself, a 400 with its own `application/json`
body (`status_code`, `detail`, `extra`), which the API never sends: a field at fault is a 422
naming it, and every error body is problem details (see `gateway/problems.py`). The statuses are
added by rule here rather than declared on each of some 75 handlers: the rules follow from what
is mapped where (authentication on every route not marked public, a path parameter that names
nothing, a body or query parameter that does not validate, a database that cannot be reached)
and a short table of the statuses only some routes give. A status listed is one the operation
can answer; `tests/gateway/test_schema_fuzz.py` checks every answer it provokes against them.

The document is reworked once per schema Litestar builds, in the render plugin that serves
`/schema/openapi.json` (the Scalar page at `/schema` reads it from there), so
`Litestar.openapi_schema` itself stays Litestar's.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from litestar import Litestar, Request
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.routes import HTTPRoute

from gateway.auth.middleware import EXCLUDE_FROM_AUTH
from gateway.problems import PROBLEM_MEDIA_TYPE

PROBLEM_SCHEMA = "ProblemDetails"

_PROBLEM_DETAILS: dict[str, Any] = {
    "type": "object",
    "description": (
        "RFC 9457 problem details. Members beyond these carry the problem's specifics: `errors` "
        "(each field at fault: `field`, `message`, `source`), `reasons` and `alternatives` of a "
        "license denial, `error` and `error_description` of an OAuth error."
    ),
    "properties": {
        "type": {"type": "string", "description": "A URN naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer", "description": "The HTTP status code."},
        "detail": {"type": "string", "description": "What went wrong, for people."},
        "instance": {"type": "string"},
    },
    "required": ["status"],
    "additionalProperties": True,
}

_MEANING = {
    400: "The request is malformed: a body that is not JSON, a NUL character, a value the route cannot take.",
    401: "No valid credentials: the access token (or, at the OAuth endpoints, the client) is missing, "
    "malformed, expired, revoked or unknown.",
    403: "The token lacks the scope this route needs, or what is asked is not the caller's to do.",
    404: "Nothing by this id that the caller may see.",
    409: "The request conflicts with the current state (an entry that exists, a job not in a state "
    "that allows it, an idempotency key still in use).",
    413: "The body is larger than the server accepts.",
    422: "A field is invalid: `errors` names each field at fault and where it came from.",
    429: "Too many requests: retry after `Retry-After` seconds.",
    502: "The runner failed to generate the images.",
    503: "The service cannot answer now (its database is unreachable, or every permitted runner is "
    "busy): retry after `Retry-After` seconds.",
    504: "The images were not ready within the wait; the job goes on (`status_url`).",
}

_ONLY_SOME: tuple[tuple[str, re.Pattern[str], tuple[int, ...]], ...] = (
    ("POST|PUT|PATCH|DELETE", re.compile(r"^/admin/"), (409,)),
    ("POST", re.compile(r"^/v1/webhooks/secret/rotate$"), (409,)),
    ("POST|DELETE", re.compile(r"^/v1/jobs/"), (409,)),  # a job not in a state that allows it
    ("GET", re.compile(r"^/v1/jobs/\{job_id\}/images/"), (409,)),  # a job not finished
    ("POST", re.compile(r"^/v1/(jobs|images/generations)$"), (409, 429)),
    ("POST", re.compile(r"^/v1/images/generations$"), (502, 504)),
    ("POST", re.compile(r"^/oauth/"), (401, 429)),
    ("POST", re.compile(r"^/v1/policy/evaluate$"), (404,)),  # a tenant or artifact the body names
    ("POST", re.compile(r"^/admin/audit/images$"), (413, 422)),  # its body, a PNG, is read by hand
    ("GET", re.compile(r"^/v1/images/files/"), (403,)),  # public, behind a signed link
)
"""(methods, path, statuses): statuses beyond the rules, where only some routes give them."""

_STREAMED: dict[tuple[str, str], tuple[str, tuple[str, ...]]] = {
    ("GET", "/admin/audit/export"): (
        "The events in sequence order: JSON Lines (`format=jsonl`, the default) or CSV (`format=csv`).",
        ("application/x-ndjson", "text/csv"),
    ),
    ("GET", "/v1/jobs/{job_id}/events"): (
        "Server-Sent Events: queued (with position), started, progress per step, each image, "
        "then completed or failed.",
        ("text/event-stream",),
    ),
}
"""Streamed answers, which Litestar documents as JSON: what they are and their media types."""


def document_problems(schema: dict[str, Any], public: set[tuple[str, str]]) -> dict[str, Any]:
    """A copy of `schema` (Litestar's OpenAPI document as a dict) with each operation's error
    answers described as problem details. `public`: the (METHOD, path) of the operations that
    need no token, which get `security: []`."""
    documented = copy.deepcopy(schema)
    documented.setdefault("components", {}).setdefault("schemas", {})[PROBLEM_SCHEMA] = _PROBLEM_DETAILS
    for path, item in documented.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "responses" in operation:
                _document(method.upper(), path, operation, item, (method.upper(), path) in public)
    return documented


def _document(method: str, path: str, operation: dict[str, Any], item: dict[str, Any], public: bool) -> None:
    parameters = [*item.get("parameters", []), *operation.get("parameters", [])]
    statuses = {400, 503}
    if public:
        operation["security"] = []
    else:
        statuses |= {401, 403}
    if any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if body := operation.get("requestBody"):
        statuses |= {413, 422}
        if all(_admits_null(media.get("schema", {})) for media in body.get("content", {}).values()):
            body["required"] = False  # a handler taking `X | None = None` runs without a body
    if parameters:
        statuses.add(422)
    for methods, pattern, extra in _ONLY_SOME:
        if re.fullmatch(methods, method) and pattern.search(path):
            statuses.update(extra)
    responses: dict[str, Any] = operation["responses"]
    if streamed := _STREAMED.get((method, path)):
        description, media_types = streamed
        responses["200"] = {
            "description": description,
            "content": {media: {"schema": {"type": "string"}} for media in media_types},
        }
    responses.pop("400", None)  # Litestar's own, whose body the API never sends
    for code, response in responses.items():
        if int(code) >= 400:
            content: dict[str, Any] = response.get("content") or {}
            first: dict[str, Any] = next(iter(content.values()), {})
            schema = first.get("schema", {"$ref": _ref()})
            response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": schema}}
    for status in sorted(statuses):
        responses.setdefault(
            str(status),
            {"description": _MEANING[status], "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": _ref()}}}},
        )


def _admits_null(schema: dict[str, Any]) -> bool:
    return schema.get("type") == "null" or any(_admits_null(s) for s in schema.get("oneOf", []))


def _ref() -> str:
    return f"#/components/schemas/{PROBLEM_SCHEMA}"


def public_operations(app: Litestar) -> set[tuple[str, str]]:
    """(METHOD, path) of every route marked public (`EXCLUDE_FROM_AUTH`)."""
    public: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                if handler.opt.get(EXCLUDE_FROM_AUTH):
                    public.update((method, route.path_format) for method in handler.http_methods)
    return public


class ProblemDocumentingJsonPlugin(JsonRenderPlugin):
    """`/schema/openapi.json`, with the errors documented."""

    _made: tuple[dict[str, Any], dict[str, Any]] | None = None
    """Litestar's document and ours of it: ours is made again only when Litestar built a new one."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        if self._made is None or self._made[0] is not openapi_schema:
            self._made = (openapi_schema, document_problems(openapi_schema, public_operations(request.app)))
        return super().render(request, self._made[1])
