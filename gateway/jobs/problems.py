"""Problem details for the jobs API's errors (installed on its router with the API's own)."""

from __future__ import annotations

import msgspec
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.types import ExceptionHandlersMap

from gateway.api.problems import api_exception_handlers
from gateway.jobs.errors import (
    DecisionNotRecordedError,
    IdempotencyRejectedError,
    JobNotFoundError,
    JobStateError,
    JobValidationError,
    NoPermittedRunnerError,
    RetryLaterError,
)
from gateway.problems import (
    PROBLEM_TYPE_PREFIX,
    ProblemConverter,
    bad_request_problem,
    exception_handlers,
    invalid_field_problem,
    not_found_problem,
)
from gateway.storage import ImageStoreError
from registry.delivery.idempotency import IdempotencyKeyError

_TYPE = PROBLEM_TYPE_PREFIX


def _invalid(exc: JobValidationError) -> ProblemDetailsException:
    return invalid_field_problem(exc, exc.field, exc.message, "body")


def _denied(exc: NoPermittedRunnerError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=403,
        type_=_TYPE + "license-denied",
        title="Not permitted by the licenses and agreements",
        detail=str(exc),
        extra={
            "decision_id": exc.decision_id,
            "decision": exc.decision,
            "reasons": [msgspec.to_builtins(r) for r in exc.reasons],
            "alternatives": [msgspec.to_builtins(a) for a in exc.alternatives],
        },
    )


def _retry(exc: RetryLaterError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=exc.status,
        type_=_TYPE + exc.slug,
        title="Too many requests" if exc.status == 429 else "Service unavailable",
        detail=str(exc),
        headers={"Retry-After": str(exc.retry_after)},
    )


def _unavailable(slug: str) -> ProblemConverter:
    """503 with `Retry-After`: a part the request needs (the audit log, the image store) did not
    answer."""

    def convert(exc: Exception) -> ProblemDetailsException:
        return ProblemDetailsException(
            status_code=503,
            type_=_TYPE + slug,
            title="Service unavailable",
            detail=str(exc),
            headers={"Retry-After": "5"},
        )

    return convert


def _state(exc: JobStateError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=409, type_=_TYPE + "job-not-finished", title="Conflict", detail=str(exc)
    )


def _idempotency(exc: IdempotencyRejectedError) -> ProblemDetailsException:
    slug = "idempotency-key-reused" if exc.status == 422 else "idempotency-key-in-progress"
    return ProblemDetailsException(
        status_code=exc.status, type_=_TYPE + slug, title="Idempotency-Key", detail=str(exc)
    )


_MAP: dict[type[Exception], ProblemConverter] = {
    JobValidationError: _invalid,
    NoPermittedRunnerError: _denied,
    RetryLaterError: _retry,
    DecisionNotRecordedError: _unavailable("audit-unavailable"),
    JobNotFoundError: not_found_problem,
    JobStateError: _state,
    IdempotencyRejectedError: _idempotency,
    IdempotencyKeyError: bad_request_problem,
    ImageStoreError: _unavailable("image-store-unavailable"),
}


def job_exception_handlers() -> ExceptionHandlersMap:
    handlers = dict(api_exception_handlers())
    handlers.update(exception_handlers(_MAP))
    return handlers
