"""Response bodies of the OAuth endpoints (msgspec Structs, so OpenAPI documents them)."""

from __future__ import annotations

from typing import Any

import msgspec


class TokenResponse(msgspec.Struct, kw_only=True):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class IntrospectionResponse(msgspec.Struct, kw_only=True, omit_defaults=True):
    active: bool
    iss: str | None = None
    sub: str | None = None
    client_id: str | None = None
    tenant_id: str | None = None
    scope: str | None = None
    exp: int | None = None
    jti: str | None = None
    token_type: str | None = None


class JsonWebKeySet(msgspec.Struct):
    keys: list[dict[str, Any]]


class AuthorizationServerMetadata(msgspec.Struct, kw_only=True):
    """RFC 8414."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    revocation_endpoint: str
    introspection_endpoint: str
    grant_types_supported: list[str]
    response_types_supported: list[str]
    scopes_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    token_endpoint_auth_signing_alg_values_supported: list[str]
    revocation_endpoint_auth_methods_supported: list[str]
    introspection_endpoint_auth_methods_supported: list[str]
    service_documentation: str | None = None
