"""`/oauth/token`, `/oauth/revoke`, `/oauth/introspect` and the `/.well-known` documents."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.status_codes import HTTP_200_OK

from gateway.auth.middleware import EXCLUDE_FROM_AUTH
from gateway.auth.scopes import ALL_SCOPES, Scope
from gateway.oauth.authorization_server import (
    ASSERTION_ALGORITHMS,
    TOKEN_ENDPOINT_AUTH_METHODS,
    TokenEndpointRequest,
)
from gateway.oauth.errors import OAuthRequestError
from gateway.oauth.schemas import (
    AuthorizationServerMetadata,
    IntrospectionResponse,
    JsonWebKeySet,
    TokenResponse,
)
from gateway.oauth.services import OAuthService, no_store_headers
from gateway.runtime import GatewayRuntime

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
MAX_FORM_PARAMETERS = 32
"""A token, revocation or introspection request names a handful. Before this bound (and with a
count per name), a 500 KB form of distinct names held the event loop for minutes."""


async def _endpoint_request(request: Request[Any, Any, Any], runtime: GatewayRuntime) -> TokenEndpointRequest:
    if request.content_type[0] != FORM_MEDIA_TYPE:
        raise OAuthRequestError(400, "invalid_request", f"The body must be {FORM_MEDIA_TYPE}.")
    form = await request.form()
    items = list(form.multi_items())
    if len(items) > MAX_FORM_PARAMETERS:
        too_many = f"More than {MAX_FORM_PARAMETERS} parameters; no OAuth request has that many."
        raise OAuthRequestError(400, "invalid_request", too_many)
    counts = Counter(name for name, _ in items)  # linear: a count per name was quadratic
    repeated = sorted(name for name, count in counts.items() if count > 1)
    if repeated:
        raise OAuthRequestError(400, "invalid_request", f"Repeated parameter(s): {', '.join(repeated)}.")
    values = {name: value for name, value in items if isinstance(value, str)}
    return TokenEndpointRequest(
        url=f"{runtime.settings.issuer}{request.url.path}",
        form=values,
        authorization=request.headers.get("authorization"),
    )


class OAuthController(Controller):
    path = "/oauth"
    tags = ["oauth"]

    @post(
        "/token",
        opt={EXCLUDE_FROM_AUTH: True},
        status_code=HTTP_200_OK,
        summary="Client credentials grant (RFC 6749 4.4)",
        description="Form body: grant_type=client_credentials, optional scope. Client "
        "authentication: client_secret_basic, client_secret_post or private_key_jwt (RFC 7523).",
    )
    async def token(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[GatewayRuntime],
        oauth_service: NamedDependency[OAuthService],
        client_address: NamedDependency[str | None],
    ) -> Response[TokenResponse]:
        endpoint_request = await _endpoint_request(request, runtime)
        body = await oauth_service.issue_token(endpoint_request, client_address)
        token = TokenResponse(
            access_token=body["access_token"],
            token_type=body["token_type"],
            expires_in=body["expires_in"],
            scope=body["scope"],
        )
        return Response(token, headers=no_store_headers())

    @post(
        "/revoke",
        opt={EXCLUDE_FROM_AUTH: True},
        status_code=HTTP_200_OK,
        summary="Token revocation (RFC 7009)",
    )
    async def revoke(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[GatewayRuntime],
        oauth_service: NamedDependency[OAuthService],
        client_address: NamedDependency[str | None],
    ) -> None:
        await oauth_service.revoke_token(await _endpoint_request(request, runtime), client_address)

    @post(
        "/introspect",
        opt={"scope": Scope.ADMIN},
        status_code=HTTP_200_OK,
        summary="Token introspection (RFC 7662), admin only",
    )
    async def introspect(
        self,
        request: Request[Any, Any, Any],
        runtime: NamedDependency[GatewayRuntime],
        oauth_service: NamedDependency[OAuthService],
    ) -> Response[IntrospectionResponse]:
        endpoint_request = await _endpoint_request(request, runtime)
        token = endpoint_request.form.get("token")
        if not token:
            raise OAuthRequestError(400, "invalid_request", "Missing 'token' parameter.")
        result = IntrospectionResponse(**await oauth_service.introspect(token))
        return Response(result, headers=no_store_headers())


class WellKnownController(Controller):
    path = "/.well-known"
    tags = ["oauth"]
    opt = {EXCLUDE_FROM_AUTH: True}

    @get("/oauth-authorization-server", summary="Authorization server metadata (RFC 8414)")
    async def metadata(self, runtime: NamedDependency[GatewayRuntime]) -> AuthorizationServerMetadata:
        issuer = runtime.settings.issuer
        methods = list(TOKEN_ENDPOINT_AUTH_METHODS)
        return AuthorizationServerMetadata(
            issuer=issuer,
            token_endpoint=f"{issuer}/oauth/token",
            jwks_uri=f"{issuer}/.well-known/jwks.json",
            revocation_endpoint=f"{issuer}/oauth/revoke",
            introspection_endpoint=f"{issuer}/oauth/introspect",
            grant_types_supported=["client_credentials"],
            response_types_supported=[],
            scopes_supported=sorted(ALL_SCOPES),
            token_endpoint_auth_methods_supported=methods,
            token_endpoint_auth_signing_alg_values_supported=list(ASSERTION_ALGORITHMS),
            revocation_endpoint_auth_methods_supported=methods,
            introspection_endpoint_auth_methods_supported=["bearer"],
            service_documentation=f"{issuer}/schema",
        )

    @get("/jwks.json", summary="Public keys that sign access tokens")
    async def jwks(self, runtime: NamedDependency[GatewayRuntime]) -> Response[JsonWebKeySet]:
        keys = JsonWebKeySet(keys=runtime.keyring.published(time.time()))
        return Response(keys, headers={"Cache-Control": "public, max-age=300"})
