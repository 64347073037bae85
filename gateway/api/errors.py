"""Domain errors of the API's services; mapped to problem details in `gateway.api.problems`."""

from __future__ import annotations


class ResourceNotFoundError(LookupError):
    """No such object, or one that belongs to another tenant: both answer the same 404."""

    def __init__(self, kind: str, identity: str) -> None:
        super().__init__(f"no {kind} {identity!r}")
        self.kind = kind
        self.identity = identity


class ResourceConflictError(ValueError):
    """The object exists already, or the change contradicts what exists."""


class LicenseVersionInUseError(ResourceConflictError):
    """Terms of a license version that artifacts or runners use are never edited in place."""


class RetiringOwnTenantError(ResourceConflictError):
    """An admin may not retire the tenant its own client belongs to: its token would stop working
    at once, locking it out of the admin API without a word."""


class InvalidQueryError(ValueError):
    """A query parameter with a value the API cannot use (the message names it)."""
