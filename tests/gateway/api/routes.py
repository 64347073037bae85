"""The app's operations as its OpenAPI schema lists them, so a new route cannot escape a test."""

from __future__ import annotations

import re

from litestar import Litestar

METHODS = ("get", "put", "post", "delete", "patch")


def operations(app: Litestar, prefix: str) -> list[tuple[str, str]]:
    """(METHOD, path template) for every operation whose path starts with `prefix`."""
    schema = app.openapi_schema
    found = []
    for path, item in (schema.paths or {}).items():
        if not path.startswith(prefix):
            continue
        for method in METHODS:
            if getattr(item, method, None) is not None:
                found.append((method.upper(), path))
    return sorted(found)


def fill(template: str, value: str = "1") -> str:
    return re.sub(r"\{[^}]+\}", value, template)
