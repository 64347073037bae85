"""Why a request is not authenticated or not authorised (mapped to problem details once, in
`gateway.problems`)."""

from __future__ import annotations


class AuthenticationRequiredError(Exception):
    """No bearer token in the request (RFC 6750 section 3.1: answered without an error code)."""


class InvalidTokenError(Exception):
    """The bearer token is rejected. The message is for logs and tests; clients only ever see
    one generic `invalid_token` answer, whatever the reason."""


class InsufficientScopeError(Exception):
    """The token is valid but lacks the scope the route requires."""

    def __init__(self, required_scope: str) -> None:
        super().__init__(f"this operation requires the scope {required_scope!r}")
        self.required_scope = required_scope
