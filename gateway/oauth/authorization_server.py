"""Authlib's authorization server (client credentials grant, client authentication methods,
RFC 7523 client assertions), fed with data loaded beforehand.

Why not Authlib in a worker thread with a sync session: our engines are async (aiosqlite,
asyncpg) and a second, synchronous driver stack would be needed for that alone. Instead all I/O
happens around Authlib: the candidate clients are loaded asynchronously before it runs, and
tokens are self-contained JWTs, so nothing is saved after. Authlib's token response is split in
two (`authenticate_token_request`, then `issue_token`) so that a client assertion it accepted is
recorded in the database in between (see `gateway.oauth.assertion_replay`). What Authlib does is
pure CPU work (one HMAC or one signature check), so it runs inline, within a fraction of a
millisecond.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationServer, ClientMixin, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidClientError, InvalidScopeError, OAuth2Error
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import JWKRegistry, Key

from gateway.auth.scopes import ALL_SCOPES
from gateway.oauth.access_tokens import AccessTokenIssuer
from gateway.oauth.assertion_replay import AssertionReplayCache, UsedAssertion
from gateway.oauth.client_secrets import ClientSecretHasher
from registry.identity.clients import OAuthClientRecord
from registry.identity.used_client_assertions import MAX_JTI_LENGTH

PRIVATE_KEY_JWT = "private_key_jwt"
SECRET_METHODS = ("client_secret_basic", "client_secret_post")
TOKEN_ENDPOINT_AUTH_METHODS = (*SECRET_METHODS, PRIVATE_KEY_JWT)
ASSERTION_ALGORITHMS = ("ES256", "RS256", "PS256")
REPLAYED_ASSERTION = "JWT ID is used before."
"""The answer to a replayed client assertion, whichever check caught it (Authlib's wording)."""


@dataclass(frozen=True, slots=True)
class TokenEndpointRequest:
    """What the token, revocation and introspection endpoints need from an HTTP request."""

    url: str
    form: Mapping[str, str]
    authorization: str | None


@dataclass(frozen=True, slots=True)
class OAuthResponse:
    status_code: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def error(self) -> str | None:
        error = self.body.get("error")
        return error if isinstance(error, str) else None


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """Authlib's view of a registered client."""

    def __init__(
        self,
        record: OAuthClientRecord,
        hasher: ClientSecretHasher,
        *,
        tenant_active: bool = True,
        now: dt.datetime | None = None,
    ) -> None:
        self.record = record
        self._hasher = hasher
        self.tenant_active = tenant_active
        """False when the client's tenant is retired: it authenticates no more, like a disabled client."""
        self._now = now or dt.datetime.now(dt.UTC)
        """When the request came: a rotated-out secret is accepted until its `previous_secret_until`."""

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = self.record.scopes
        if not scope:
            return " ".join(allowed)
        return " ".join(item for item in scope.split() if item in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        record = self.record
        if self._hasher.matches(client_secret, record.secret_hash):
            return True
        until = record.previous_secret_until
        return (
            record.previous_secret_hash is not None
            and until is not None
            and self._now < until
            and self._hasher.matches(client_secret, record.previous_secret_hash)
        )

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.record.disabled or not self.tenant_active:
            return False
        if method in SECRET_METHODS:
            return self.record.secret_hash is not None
        if method == PRIVATE_KEY_JWT:
            return self.record.public_jwk is not None
        return False

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, request: TokenEndpointRequest) -> None:
        headers = {"Authorization": request.authorization} if request.authorization else {}
        super().__init__(method="POST", uri=request.url, headers=headers)
        self.payload = BasicOAuth2Payload(dict(request.form))
        self._form = dict(request.form)

    @property
    def form(self) -> dict[str, str]:
        return self._form


class PrivateKeyJwtAuthentication(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 client assertions signed with the key the client registered.

    One instance per request (its server's): `accepted` is the assertion this request presented,
    once its signature, claims and in-memory replay check passed.
    """

    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, audiences: list[str], replay_cache: AssertionReplayCache, leeway: int) -> None:
        super().__init__(validate_jti=True, leeway=leeway)
        self._audiences = audiences
        self._replay_cache = replay_cache
        self.accepted: UsedAssertion | None = None

    def get_audiences(self) -> list[str]:
        return self._audiences

    def validate_jti(self, claims: dict[str, Any], jti: str) -> bool:
        """Called once the signature and the other claims are verified (joserfc checked that
        `jti` is a string and `exp` a finite number)."""
        if len(jti) > MAX_JTI_LENGTH:
            raise InvalidClientError(description=f"Claim 'jti' is longer than {MAX_JTI_LENGTH} characters.")
        # joserfc accepts an assertion until `exp` plus the leeway: remember it as long.
        try:
            expires_at = dt.datetime.fromtimestamp(claims["exp"] + self.leeway, dt.UTC)
        except (OverflowError, ValueError, OSError) as exc:
            raise InvalidClientError(description="Claim 'exp' is out of range.") from exc
        if not self._replay_cache.first_use(f"{claims['sub']}:{jti}", expires_at.timestamp()):
            raise InvalidClientError(description=REPLAYED_ASSERTION)
        self.accepted = UsedAssertion(client_id=claims["sub"], jti=jti, expires_at=expires_at)
        return True

    def resolve_client_public_key(self, client: OAuthClient) -> Key:
        return JWKRegistry.import_key(client.record.public_jwk or {})

    def process_assertion_claims(self, assertion: str, resolve_key: Key) -> dict[str, Any]:
        # Authlib's default accepts any algorithm joserfc recommends; pin ours.
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=list(ASSERTION_ALGORITHMS))
        except (JoseError, ValueError) as exc:
            raise InvalidClientError(description="Invalid client assertion.") from exc
        self.verify_claims(token.claims)
        return token.claims


class _ClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = list(TOKEN_ENDPOINT_AUTH_METHODS)

    def validate_requested_scope(self) -> None:
        """A client gets only scopes it was registered with; asking for more is an error, not a
        silent narrowing."""
        requested = (self.request.payload.scope or "").split()
        if not set(requested) <= set(self.request.client.record.scopes):
            raise InvalidScopeError(description="The client may not request these scopes.")


@dataclass(frozen=True, slots=True)
class AuthenticatedTokenRequest:
    """A token request Authlib validated (client authenticated, scopes allowed); no token yet."""

    grant: _ClientCredentialsGrant
    assertion: UsedAssertion | None
    """The client assertion that authenticated it (private_key_jwt), to record before issuing."""


class ClearanceAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    """One instance per request: it holds that request's candidate clients."""

    def __init__(
        self,
        *,
        clients: Mapping[str, OAuthClient],
        token_issuer: AccessTokenIssuer,
        assertion_audiences: list[str],
        replay_cache: AssertionReplayCache,
        leeway: int,
    ) -> None:
        super().__init__(scopes_supported=sorted(ALL_SCOPES))
        self._clients = clients
        self._token_issuer = token_issuer
        self.register_grant(_ClientCredentialsGrant)
        self._assertions = PrivateKeyJwtAuthentication(assertion_audiences, replay_cache, leeway)
        self.register_client_auth_method(PRIVATE_KEY_JWT, self._assertions)
        self.register_token_generator("default", self._generate_token)

    def query_client(self, client_id: str) -> OAuthClient | None:
        return self._clients.get(client_id)

    def refused_reason(self) -> str | None:
        """Why the request's client was refused when Authlib's answer does not say (for the audit
        log, never for the caller)."""
        if any(not client.tenant_active for client in self._clients.values()):
            return "the client's tenant is retired"
        if any(client.record.disabled for client in self._clients.values()):
            return "the client is disabled"
        return None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Nothing to save: access tokens are self-contained JWTs and there are no refresh tokens."""

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: TokenEndpointRequest) -> OAuth2Request:
        return _FormRequest(request)

    def handle_response(self, status: int, body: Any, headers: Any) -> OAuthResponse:
        return OAuthResponse(status_code=status, body=dict(body), headers=dict(headers))

    def authenticate_token_request(
        self, request: TokenEndpointRequest
    ) -> AuthenticatedTokenRequest | OAuthResponse:
        """Authlib's `create_token_response` up to, not including, issuing the token; an error
        answer when the request fails."""
        oauth_request = self.create_oauth2_request(request)
        try:
            grant: _ClientCredentialsGrant = self.get_token_grant(oauth_request)
            grant.validate_token_request()
        except OAuth2Error as error:
            response: OAuthResponse = self.handle_error_response(oauth_request, error)
            return response
        return AuthenticatedTokenRequest(grant=grant, assertion=self._accepted_assertion(oauth_request))

    def issue_token(self, authenticated: AuthenticatedTokenRequest) -> OAuthResponse:
        """The rest of Authlib's `create_token_response`."""
        grant = authenticated.grant
        try:
            response: OAuthResponse = self.handle_response(*grant.create_token_response())
        except OAuth2Error as error:
            response = self.handle_error_response(grant.request, error)
        return response

    def replayed_assertion_response(self) -> OAuthResponse:
        """What a replayed client assertion is answered, exactly as when Authlib catches it."""
        response: OAuthResponse = self.handle_error_response(
            None, InvalidClientError(description=REPLAYED_ASSERTION)
        )
        return response

    def authenticate_client(self, request: OAuth2Request, methods: list[str], endpoint: str = "token") -> Any:
        """Authlib's, except that a client assertion whose JSON nests deeper than the decoder
        can go (Authlib decodes its claims with `json.loads`, which then raises RecursionError)
        is an invalid client like any other unreadable assertion, not a 500."""
        try:
            return super().authenticate_client(request, methods, endpoint)
        except RecursionError as exc:
            raise InvalidClientError(description="client_assertion nests too deeply") from exc

    def authenticate(
        self, request: TokenEndpointRequest, endpoint: str
    ) -> tuple[OAuthClient, UsedAssertion | None]:
        """Client authentication alone (revocation endpoint), with the client assertion that
        authenticated it, to record; raises InvalidClientError."""
        oauth_request = _FormRequest(request)
        client: OAuthClient = self.authenticate_client(
            oauth_request, list(TOKEN_ENDPOINT_AUTH_METHODS), endpoint
        )
        return client, self._accepted_assertion(oauth_request)

    def _accepted_assertion(self, oauth_request: OAuth2Request) -> UsedAssertion | None:
        if getattr(oauth_request, "auth_method", None) != PRIVATE_KEY_JWT:
            return None
        return self._assertions.accepted

    def _generate_token(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = False,
    ) -> dict[str, Any]:
        scopes = tuple(scope.split()) if scope else tuple(client.record.scopes)
        issued = self._token_issuer.issue(
            client_id=client.record.client_id, tenant_id=client.record.tenant_id, scopes=scopes
        )
        return {
            "access_token": issued.access_token,
            "token_type": "Bearer",
            "expires_in": issued.expires_in,
            "scope": issued.scope,
        }
