"""The scopes a token may carry. No scope implies another: `admin` does not grant `jobs:write`."""

from __future__ import annotations

import enum


class Scope(enum.StrEnum):
    MODELS_READ = "models:read"
    JOBS_WRITE = "jobs:write"
    JOBS_READ = "jobs:read"
    AUDIT_READ = "audit:read"
    ADMIN = "admin"


ALL_SCOPES: frozenset[str] = frozenset(Scope)


class UnknownScopeError(ValueError):
    """A scope name that is not one of `Scope`."""


def parse_scopes(text: str) -> tuple[str, ...]:
    """Space- or comma-separated scope names, checked and de-duplicated in order."""
    names = [part for part in text.replace(",", " ").split() if part]
    unknown = [name for name in names if name not in ALL_SCOPES]
    if unknown:
        raise UnknownScopeError(
            f"unknown scope(s) {', '.join(unknown)}; known: {', '.join(sorted(ALL_SCOPES))}"
        )
    return tuple(dict.fromkeys(names))
