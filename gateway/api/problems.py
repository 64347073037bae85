"""Problem details for the API's own errors, installed on its routers.

Bodies that do not decode (an unknown field such as `tenant_id`, a wrong type) answer 422 with
the field named, like catalog validation errors do, so a client sees one shape for "this field
is wrong" whether msgspec or the catalog's cross-entry checks found it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from litestar import Request, Response
from litestar.exceptions import ValidationException
from litestar.plugins.problem_details import ProblemDetailsException
from litestar.types import ExceptionHandlersMap

from gateway.api.errors import (
    InvalidQueryError,
    LicenseVersionInUseError,
    ResourceConflictError,
    ResourceNotFoundError,
    RetiringOwnTenantError,
)
from registry.audit import InvalidCursorError
from registry.catalog.errors import CatalogError
from registry.importers.errors import ImporterError
from registry.netguard.errors import UnsafeUrlError

_TYPE = "urn:clearance:problem:"
_UNKNOWN = re.compile(r"unknown field `(?P<name>[^`]+)`")


def _not_found(exc: ResourceNotFoundError) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=404, type_=_TYPE + "not-found", title="Not found", detail=str(exc)
    )


def _conflict(exc: ResourceConflictError) -> ProblemDetailsException:
    slug = (
        "license-version-in-use"
        if isinstance(exc, LicenseVersionInUseError)
        else "retiring-own-tenant"
        if isinstance(exc, RetiringOwnTenantError)
        else "conflict"
    )
    return ProblemDetailsException(status_code=409, type_=_TYPE + slug, title="Conflict", detail=str(exc))


def _catalog(exc: CatalogError) -> ProblemDetailsException:
    issues = [{"entry": i.entry, "field": i.field, "message": i.message} for i in exc.issues]
    if any(i["field"] == "terms" and "create a new version" in i["message"] for i in issues):
        return ProblemDetailsException(
            status_code=409,
            type_=_TYPE + "license-version-in-use",
            title="Conflict",
            detail=str(exc),
            extra={"errors": issues},
        )
    return ProblemDetailsException(
        status_code=422,
        type_=_TYPE + "invalid-catalog-entry",
        title="Invalid catalog entry",
        detail=str(exc),
        extra={"errors": issues},
    )


def _invalid_body(exc: ValidationException) -> ProblemDetailsException:
    items = exc.extra if isinstance(exc.extra, list) else []
    errors = [_field_error(item) for item in items if isinstance(item, Mapping)]
    detail = "; ".join(f"{e['field']}: {e['message']}" if e["field"] else e["message"] for e in errors)
    return ProblemDetailsException(
        status_code=422,
        type_=_TYPE + "invalid-request",
        title="Invalid request",
        detail=detail or exc.detail,
        extra={"errors": errors},
    )


def _field_error(item: Mapping[str, Any]) -> dict[str, Any]:
    """Litestar's `{"key": "profile.country", "message": ...}` as the field `profile.country`; an
    unknown field is named by itself (`tenant_id`), not by the body (`data`) that carried it."""
    text = str(item.get("message", ""))
    key = item.get("key")
    field = str(key) if key is not None and key != "data" else ""
    if field.startswith("data."):
        field = field[len("data.") :]
    unknown = _UNKNOWN.search(text)
    if unknown is not None:
        field = f"{field}.{unknown['name']}" if field else unknown["name"]
    return {"field": field, "message": text, "source": item.get("source")}


def _bad_query(exc: Exception) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=400, type_=_TYPE + "invalid-request", title="Invalid request", detail=str(exc)
    )


def _importer(exc: Exception) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=422, type_=_TYPE + "import-failed", title="Import failed", detail=str(exc)
    )


_MAP: dict[type[Exception], Callable[[Any], ProblemDetailsException]] = {
    ResourceNotFoundError: _not_found,
    ResourceConflictError: _conflict,
    CatalogError: _catalog,
    ValidationException: _invalid_body,
    InvalidQueryError: _bad_query,
    InvalidCursorError: _bad_query,
    ImporterError: _importer,
    UnsafeUrlError: _importer,
}


def _handler(convert: Callable[[Any], ProblemDetailsException]) -> Callable[..., Response[Any]]:
    def handle(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
        return convert(exc).to_response(request)

    return handle


def api_exception_handlers() -> ExceptionHandlersMap:
    return {exc_type: _handler(convert) for exc_type, convert in _MAP.items()}
