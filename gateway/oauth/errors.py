"""OAuth endpoint failures (mapped to problem details once, in `gateway.problems`)."""

from __future__ import annotations

from typing import Any


class OAuthRequestError(Exception):
    """An RFC 6749 error answer (`error`, `error_description`) from the token, revocation or
    introspection endpoint."""

    def __init__(self, status_code: int, error: str, description: str, headers: dict[str, str] | None = None):
        super().__init__(f"{error}: {description}")
        self.status_code = status_code
        self.error = error
        self.description = description
        self.headers = headers or {}

    @classmethod
    def from_body(cls, status_code: int, body: dict[str, Any], headers: dict[str, str]) -> OAuthRequestError:
        kept = {name: value for name, value in headers.items() if name.lower() == "www-authenticate"}
        return cls(status_code, str(body.get("error")), str(body.get("error_description", "")), kept)


class TooManyFailedAuthenticationsError(Exception):
    """Too many failed client authentications from this client id or address."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed client authentications; retry after {retry_after} s")
        self.retry_after = retry_after


class SigningUnavailableError(Exception):
    """No signing key is loaded (the database was unreachable since start-up)."""
