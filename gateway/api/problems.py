"""Problem details for the API's own errors, installed on its routers.

Bodies that do not decode (an unknown field such as `tenant_id`, a wrong type) answer 422 with
the field named, like catalog validation errors do, so a client sees one shape for "this field
is wrong" whether msgspec or the catalog's cross-entry checks found it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

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
from gateway.problems import (
    PROBLEM_TYPE_PREFIX,
    ProblemConverter,
    bad_request_problem,
    exception_handlers,
    not_found_problem,
)
from registry.audit import InvalidCursorError
from registry.catalog.errors import CatalogError
from registry.importers.errors import ImporterError
from registry.netguard.errors import UnsafeUrlError

_TYPE = PROBLEM_TYPE_PREFIX
_UNKNOWN = re.compile(r"unknown field `(?P<name>[^`]+)`")


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


def _importer(exc: Exception) -> ProblemDetailsException:
    return ProblemDetailsException(
        status_code=422, type_=_TYPE + "import-failed", title="Import failed", detail=str(exc)
    )


_MAP: dict[type[Exception], ProblemConverter] = {
    ResourceNotFoundError: not_found_problem,
    ResourceConflictError: _conflict,
    CatalogError: _catalog,
    ValidationException: _invalid_body,
    InvalidQueryError: bad_request_problem,
    InvalidCursorError: bad_request_problem,
    ImporterError: _importer,
    UnsafeUrlError: _importer,
}


def api_exception_handlers() -> ExceptionHandlersMap:
    return exception_handlers(_MAP)
