"""The token, revocation and introspection operations, over plain request data (never a
Litestar `Request`): I/O first (load candidate clients), then Authlib, then bookkeeping.

A client assertion Authlib accepted is recorded in the database before the token is issued (or
the revocation done): one used by another process first is refused as a replay, with no token.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote

from authlib.oauth2.rfc6749.errors import InvalidClientError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.errors import InvalidTokenError
from gateway.auth.jwt_claims import peek
from gateway.oauth.assertion_replay import record_first_use
from gateway.oauth.authorization_server import (
    REPLAYED_ASSERTION,
    ClearanceAuthorizationServer,
    OAuthClient,
    OAuthResponse,
    TokenEndpointRequest,
)
from gateway.oauth.client_registry import find_clients
from gateway.oauth.errors import OAuthRequestError, SigningUnavailableError, TooManyFailedAuthenticationsError
from gateway.oauth.revocation import record_revocation
from gateway.runtime import GatewayRuntime

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthService:
    def __init__(self, runtime: GatewayRuntime, session: AsyncSession) -> None:
        self._runtime = runtime
        self._session = session

    async def issue_token(self, request: TokenEndpointRequest, address: str | None) -> dict[str, Any]:
        """RFC 6749 section 4.4: client credentials; the answer's body (no refresh token)."""
        if not self._runtime.keyring.loaded:
            raise SigningUnavailableError("no signing key loaded")
        candidate_ids = _candidate_client_ids(request)
        limit_keys = self._check_rate_limit(candidate_ids, address)
        server = await self._server(candidate_ids)
        authenticated = server.authenticate_token_request(request)
        if isinstance(authenticated, OAuthResponse):
            response = authenticated
        elif authenticated.assertion is not None and not await record_first_use(
            self._session, authenticated.assertion, dt.datetime.now(dt.UTC)
        ):
            response = server.replayed_assertion_response()
        else:
            response = server.issue_token(authenticated)
        if response.error is not None:
            if response.error == "invalid_client":
                await self._failed(candidate_ids, address, limit_keys, response.body, server.refused_reason())
            raise OAuthRequestError.from_body(response.status_code, response.body, response.headers)
        return response.body

    async def revoke_token(self, request: TokenEndpointRequest, address: str | None) -> None:
        """RFC 7009: the client that owns a token may revoke it; unknown or invalid tokens are
        answered as success, as the RFC asks."""
        candidate_ids = _candidate_client_ids(request)
        limit_keys = self._check_rate_limit(candidate_ids, address)
        server = await self._server(candidate_ids)
        try:
            client, assertion = server.authenticate(request, "revocation")
            if assertion is not None and not await record_first_use(
                self._session, assertion, dt.datetime.now(dt.UTC)
            ):
                raise InvalidClientError(description=REPLAYED_ASSERTION)
        except InvalidClientError as error:
            status, body, headers = error(None)
            await self._failed(candidate_ids, address, limit_keys, dict(body), server.refused_reason())
            raise OAuthRequestError.from_body(status, dict(body), dict(headers)) from error
        token = request.form.get("token")
        if not token:
            raise OAuthRequestError(400, "invalid_request", "Missing 'token' parameter.")
        try:
            context = self._runtime.validator.validate_own(token)
        except InvalidTokenError:
            return
        if context.client_id != client.get_client_id():
            raise OAuthRequestError(400, "unauthorized_client", "The token was not issued to this client.")
        now = dt.datetime.now(dt.UTC)
        await record_revocation(
            self._session,
            jti=context.token_id,
            client_id=context.client_id,
            expires_at=dt.datetime.fromtimestamp(context.expires_at, dt.UTC),
            now=now,
        )
        self._runtime.revocations.add(context.token_id, context.expires_at)

    async def introspect(self, token: str) -> dict[str, Any]:
        """RFC 7662: `active` and the token's claims, or only `active: false`."""
        validator = self._runtime.validator
        try:
            context = validator.validate_own(token)
            await validator.check_tenant(context)
        except InvalidTokenError:
            return {"active": False}
        return {
            "active": True,
            "iss": context.issuer,
            "sub": context.subject,
            "client_id": context.client_id,
            "tenant_id": context.tenant_id,
            "scope": " ".join(sorted(context.scopes)),
            "exp": int(context.expires_at),
            "jti": context.token_id,
            "token_type": "Bearer",
        }

    def _check_rate_limit(self, candidate_ids: set[str], address: str | None) -> list[str]:
        keys = [f"client:{client_id}" for client_id in candidate_ids]
        if address:
            keys.append(f"address:{address}")
        retry_after = self._runtime.failed_auth_limiter.retry_after(keys)
        if retry_after is not None:
            raise TooManyFailedAuthenticationsError(retry_after)
        return keys

    async def _failed(
        self,
        candidate_ids: set[str],
        address: str | None,
        limit_keys: list[str],
        body: Mapping[str, Any],
        reason: str | None = None,
    ) -> None:
        """Rate-limit and audit; `reason` (for the audit log only) says more than the answer."""
        self._runtime.failed_auth_limiter.record_failure(limit_keys)
        await self._runtime.auth_events.failed_client_authentication(
            client_id=",".join(sorted(candidate_ids)) or None,
            address=address,
            reason=reason or str(body.get("error_description") or body.get("error")),
            at=dt.datetime.now(dt.UTC),
        )

    async def _server(self, candidate_ids: set[str]) -> ClearanceAuthorizationServer:
        runtime = self._runtime
        records = await find_clients(self._session, candidate_ids)
        settings = runtime.settings
        now = dt.datetime.now(dt.UTC)
        clients = {
            client_id: OAuthClient(
                record,
                runtime.secret_hasher,
                tenant_active=await runtime.tenant_status.is_active(record.tenant_id),
                now=now,
            )
            for client_id, record in records.items()
        }
        return ClearanceAuthorizationServer(
            clients=clients,
            token_issuer=runtime.token_issuer,
            assertion_audiences=[f"{settings.issuer}/oauth/token", settings.issuer],
            replay_cache=runtime.replay_cache,
            leeway=settings.clock_leeway_seconds,
        )


def no_store_headers() -> dict[str, str]:
    return dict(_NO_STORE)


def _candidate_client_ids(request: TokenEndpointRequest) -> set[str]:
    """Client ids the request claims, unverified: only to load those clients before Authlib
    checks the credentials."""
    ids: set[str] = set()
    if request.authorization and request.authorization[:6].lower() == "basic ":
        try:
            decoded = base64.b64decode(request.authorization[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            decoded = ""
        ids.add(unquote(decoded.split(":", 1)[0]))
    if client_id := request.form.get("client_id"):
        ids.add(client_id)
    if assertion := request.form.get("client_assertion"):
        ids.update(_assertion_subjects(assertion))
    return {client_id for client_id in ids if client_id}


def _assertion_subjects(assertion: str) -> set[str]:
    try:
        _, claims = peek(assertion)
    except InvalidTokenError:
        return set()
    return {value for value in (claims.get("sub"), claims.get("iss")) if isinstance(value, str)}
