"""Every error answer is RFC 9457 problem details (`application/problem+json`).

Domain exceptions are mapped to HTTP here, once; the code that raises them knows nothing of
HTTP. A 500 never carries the exception's text: it is logged, the client gets a generic body.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as SqlAlchemyPoolTimeout

from gateway.auth.errors import AuthenticationRequiredError, InsufficientScopeError, InvalidTokenError
from gateway.health.errors import DatabaseUnavailableError
from gateway.nul_guard import JsonTooDeepError, NulCharacterError
from gateway.oauth.client_registry import ClientRegistrationError
from gateway.oauth.errors import OAuthRequestError, SigningUnavailableError, TooManyFailedAuthenticationsError
from registry.db.unreachable import database_unreachable, first_line, value_refused

log = logging.getLogger("clearance.errors")

PROBLEM_MEDIA_TYPE = "application/problem+json"
REALM = 'Bearer realm="clearance"'
INVALID_TOKEN_DETAIL = "The access token is missing, malformed, expired, revoked or not meant for this API."  # noqa: S105


PROBLEM_TYPE_PREFIX = "urn:clearance:problem:"

ProblemConverter = Callable[[Any], ProblemDetailsException]
"""Maps one domain exception to its problem details."""


def problem_type(slug: str) -> str:
    return PROBLEM_TYPE_PREFIX + slug


def exception_handlers(converters: Mapping[type[Exception], ProblemConverter]) -> ExceptionHandlersMap:
    """Router-level handlers for an API's own exceptions, answering with the problem details
    their converters build, exactly as the app-wide plugin answers for the shared ones."""
    return {exc_type: _respond_with(convert) for exc_type, convert in converters.items()}


def _respond_with(convert: ProblemConverter) -> Callable[..., Response[Any]]:
    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        return convert(exc).to_response(request)

    return handle


def not_found_problem(exc: Exception) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=404, type_=problem_type("not-found"), title="Not found", detail=str(exc)
    )


def bad_request_problem(exc: Exception) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=400, type_=problem_type("invalid-request"), title="Invalid request", detail=str(exc)
    )


def invalid_field_problem(exc: Exception, field: str, message: str, source: str) -> ProblemDetailsException:
    """A 422 naming the one field at fault (`source`: where it came from, `body` or `header`)."""
    return ProblemDetailsException(
        status_code=422,
        type_=problem_type("invalid-request"),
        title="Invalid request",
        detail=str(exc),
        extra={"errors": [{"field": field, "message": message, "source": source}]},
    )


def _authentication_required(exc: AuthenticationRequiredError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=401,
        type_=problem_type("authentication-required"),
        title="Authentication required",
        detail="Send an access token as 'Authorization: Bearer <token>'.",
        headers={"WWW-Authenticate": REALM},
    )


def _invalid_token(exc: InvalidTokenError) -> ProblemDetailsException:
    log.debug("invalid token: %s", exc)
    return ProblemDetailsException(
        status_code=401,
        type_=problem_type("invalid-token"),
        title="Invalid token",
        detail=INVALID_TOKEN_DETAIL,
        headers={"WWW-Authenticate": f'{REALM}, error="invalid_token"'},
        extra={"error": "invalid_token"},
    )


def _insufficient_scope(exc: InsufficientScopeError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=403,
        type_=problem_type("insufficient-scope"),
        title="Insufficient scope",
        detail=str(exc),
        headers={"WWW-Authenticate": f'{REALM}, error="insufficient_scope", scope="{exc.required_scope}"'},
        extra={"error": "insufficient_scope", "scope": exc.required_scope},
    )


def _oauth_request(exc: OAuthRequestError) -> ProblemDetailsException:
    # RFC 6749 clients read `error` and `error_description`: kept as extension members.
    return ProblemDetailsException(
        status_code=exc.status_code,
        type_=problem_type(exc.error.replace("_", "-")),
        title=exc.error,
        detail=exc.description or exc.error,
        headers={**exc.headers, "Cache-Control": "no-store"},
        extra={"error": exc.error, "error_description": exc.description},
    )


def _too_many_failures(exc: TooManyFailedAuthenticationsError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=429,
        type_=problem_type("too-many-failed-authentications"),
        title="Too many failed authentications",
        detail=str(exc),
        headers={"Retry-After": str(exc.retry_after)},
        extra={"error": "slow_down"},
    )


def _unavailable(exc: Exception) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=503,
        type_=problem_type("unavailable"),
        title="Service unavailable",
        detail=str(exc),
        headers={"Retry-After": "5"},
    )


def _client_registration(exc: ClientRegistrationError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=422,
        type_=problem_type("invalid-client-registration"),
        title="Invalid client",
        detail=str(exc),
    )


def _validation(exc: ValidationException) -> ProblemDetailsException:
    errors = exc.extra if isinstance(exc.extra, list) else []
    return ProblemDetailsException(
        status_code=400,
        type_=problem_type("invalid-request"),
        title="Invalid request",
        detail=exc.detail,
        extra={"errors": [_field_error(item) for item in errors if isinstance(item, dict)]},
    )


def _field_error(item: dict[str, Any]) -> dict[str, Any]:
    return {"field": item.get("key"), "message": item.get("message"), "source": item.get("source")}


CLIENT_DISCONNECTED = "client disconnected prematurely"
"""The detail of the exception Litestar raises when the request body never completes."""


def _http(exc: HTTPException) -> ProblemDetailsException:
    status = exc.status_code
    if status >= 500 and exc.detail == CLIENT_DISCONNECTED:
        # Litestar raises a 500 when the client hangs up before its body arrived; nobody is
        # left to answer and nothing on our side failed, so it is not logged as a server error.
        log.info("client disconnected before its request body arrived")
        return ProblemDetailsException(
            status_code=400, title="Bad Request", detail="The client disconnected before its body arrived."
        )
    if status >= 500:
        # Raised by the framework: no traceback needed.
        log.warning("HTTP %s: %s", status, exc.detail)
        return _generic_500()
    phrase = HTTPStatus(status).phrase
    detail = exc.detail if exc.detail and exc.detail != phrase else phrase
    return ProblemDetailsException(status_code=status, title=phrase, detail=detail, headers=exc.headers)


def _nul(exc: NulCharacterError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=422 if exc.source == "body" else 400,
        type_=problem_type("invalid-request"),
        title="Invalid request",
        detail=str(exc),
        extra={"errors": [{"field": exc.field, "message": "holds a NUL character", "source": exc.source}]},
    )


def _database(exc: Exception) -> ProblemDetailsException:
    """A database that cannot be used now is 503 and `Retry-After`; a value it cannot store (too
    long, out of range: PostgreSQL's data exceptions) is 422; any other database error is a bug."""
    if value_refused(exc):
        log.warning("a value the database cannot store: %s", first_line(exc))
        return ProblemDetailsException(
            status_code=422,
            type_=problem_type("invalid-request"),
            title="Invalid request",
            detail=f"a value cannot be stored: {first_line(getattr(exc, 'orig', exc))}",
        )
    if not database_unreachable(exc):
        return _internal(exc)
    log.warning("database unavailable: %s", first_line(exc))
    return ProblemDetailsException(
        status_code=503,
        type_=problem_type("database-unavailable"),
        title="Service unavailable",
        detail=f"the database cannot be used now ({type(exc).__name__}); retry later",
        headers={"Retry-After": "5"},
    )


def _internal(exc: Exception) -> ProblemDetailsException:
    log.error("unhandled error", exc_info=exc)
    return _generic_500()


def _generic_500() -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=500,
        title="Internal Server Error",
        detail="An unexpected error occurred; it has been logged.",
    )


_MAP: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
    AuthenticationRequiredError: _authentication_required,
    InvalidTokenError: _invalid_token,
    InsufficientScopeError: _insufficient_scope,
    OAuthRequestError: _oauth_request,
    TooManyFailedAuthenticationsError: _too_many_failures,
    SigningUnavailableError: _unavailable,
    DatabaseUnavailableError: _unavailable,
    ClientRegistrationError: _client_registration,
    NulCharacterError: _nul,
    JsonTooDeepError: bad_request_problem,
    ValidationException: _validation,
    HTTPException: _http,
    DBAPIError: _database,
    SqlAlchemyPoolTimeout: _database,
    ConnectionError: _database,
    Exception: _internal,
}


def problem_details_plugin() -> ProblemDetailsPlugin:
    return ProblemDetailsPlugin(ProblemDetailsConfig(exception_to_problem_detail_map=_MAP))
