"""Problem details for `/v1/images/generations`: the jobs API's mapping, plus two members the
openai client reads from an error body (`code`, `param`), so `APIStatusError.code` names the
problem and `.param` the field at fault. Responses that another attempt cannot fix carry
`x-should-retry: false`, which the openai client honours instead of retrying them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request, Response
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.types import ExceptionHandlersMap

from gateway.images.errors import DeclarationHeaderError, GenerationFailedError, GenerationPendingError
from gateway.jobs.problems import job_exception_handlers
from gateway.problems import PROBLEM_TYPE_PREFIX, exception_handlers, invalid_field_problem
from gateway.storage.links import ImageLinkError

_TYPE = PROBLEM_TYPE_PREFIX


def _failed(exc: GenerationFailedError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=502,
        type_=_TYPE + "generation-failed",
        title="Generation failed",
        detail=str(exc),
        extra={"job_id": exc.job_id, "job_status": exc.status},
    )


def _link(exc: ImageLinkError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=403, type_=_TYPE + "image-link-invalid", title="Forbidden", detail=str(exc)
    )


def _pending(exc: GenerationPendingError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=504,
        type_=_TYPE + "generation-pending",
        title="Still generating",
        detail=str(exc),
        extra={"job_id": exc.job_id, "status_url": f"/v1/jobs/{exc.job_id}"},
    )


def _header(exc: DeclarationHeaderError) -> ProblemDetailsException:
    return invalid_field_problem(exc, exc.field, exc.message, "header")


def _openai_members(handle: Callable[..., Response[Any]]) -> Callable[..., Response[Any]]:
    def wrapped(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        response = handle(request, exc)
        problem = response.content
        if isinstance(problem, dict):
            problem.setdefault("code", str(problem.get("type", "")).removeprefix(_TYPE).replace("-", "_"))
            errors = problem.get("errors")
            if errors and isinstance(errors, list) and isinstance(errors[0], dict):
                problem.setdefault("param", errors[0].get("field"))
        status = response.status_code
        if status in (403, 422, 502, 504) or (
            status == 409 and problem.get("code") != "idempotency_key_in_progress"
        ):
            response.headers["x-should-retry"] = "false"
        return response

    return wrapped


def images_exception_handlers() -> ExceptionHandlersMap:
    handlers: dict[Any, Any] = dict(job_exception_handlers())
    handlers.update(
        exception_handlers(
            {
                GenerationFailedError: _failed,
                GenerationPendingError: _pending,
                DeclarationHeaderError: _header,
                ImageLinkError: _link,
            }
        )
    )
    return {key: _openai_members(handler) for key, handler in handlers.items()}
