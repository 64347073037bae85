"""The authenticated caller, as every handler sees it."""

from __future__ import annotations

import msgspec


class AuthContext(msgspec.Struct, frozen=True, kw_only=True):
    """Who is calling and for which tenant; built from a validated token only.

    The tenant comes from the client's registration (our tokens) or the trusted issuer's tenant
    claim, never from the request.
    """

    subject: str
    client_id: str
    tenant_id: str
    scopes: frozenset[str]
    issuer: str
    token_id: str
    """The token's `jti` ("" for an external token without one)."""
    expires_at: float
    """The token's `exp`, seconds since the epoch."""
    request_id: str | None = None
    """The request's id (`gateway.request_ids`), recorded on the audit events it causes."""

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes
