"""Everything that lives as long as the app: built (without I/O) in `create_app`, connected to
the database in the lifespan, handed to handlers through `provide_*` dependencies."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from gateway.auth.external_issuers import ExternalIssuer, JwksCache
from gateway.auth.tenant_status import TenantStatus
from gateway.auth.token_validation import AccessTokenValidator
from gateway.oauth.access_tokens import AccessTokenIssuer
from gateway.oauth.assertion_replay import (
    ASSERTION_PURGE_SECONDS,
    AssertionReplayCache,
    purge_expired_assertions,
)
from gateway.oauth.auth_events import AuditLogAuthEventRecorder, AuthEventRecorder, LoggingAuthEventRecorder
from gateway.oauth.client_secrets import ClientSecretHasher
from gateway.oauth.disabled_clients import DisabledClients
from gateway.oauth.failed_auth_limiter import FailedAuthenticationLimiter
from gateway.oauth.key_sealing import KeySealer
from gateway.oauth.keyring import SigningKeyring
from gateway.oauth.pepper import load_pepper
from gateway.oauth.revocation import RevocationList
from gateway.oauth.signing_key_store import ensure_active_key, load_signing_keys
from gateway.settings import Settings
from gateway.storage.links import ImageLinks
from registry.audit import AuditLog, load_or_create_signing_key
from registry.db.engine import create_engine, session_factory

log = logging.getLogger(__name__)

_JWKS_MAX_BYTES = 512 * 1024


class NotStartedError(RuntimeError):
    """The runtime is used before the app's lifespan connected it."""


class GatewayRuntime:
    def __init__(self, settings: Settings, *, auth_events: AuthEventRecorder | None = None) -> None:
        self.settings = settings
        self.keyring = SigningKeyring()
        self.revocations = RevocationList()
        self.disabled_clients = DisabledClients()
        self.tenant_status = TenantStatus(lambda: self.sessions)
        self.replay_cache = AssertionReplayCache()
        self._assertions_purged_at: float | None = None
        """`time.monotonic()` of this process's last purge of expired used client assertions."""
        self._custom_auth_events = auth_events is not None
        self.auth_events: AuthEventRecorder = auth_events or LoggingAuthEventRecorder()
        self.audit_log: AuditLog | None = None
        """The process's audit log; None while the database was unreachable at start-up."""
        self.failed_auth_limiter = FailedAuthenticationLimiter(
            limit=settings.auth_failure_limit, window_seconds=settings.auth_failure_window_seconds
        )
        self.external_issuers = {
            config.issuer: ExternalIssuer(
                config,
                JwksCache(
                    config.jwks_url,
                    self._fetch_jwks,
                    cache_seconds=settings.jwks_cache_seconds,
                    min_refresh_seconds=settings.jwks_min_refresh_seconds,
                ),
                leeway=settings.clock_leeway_seconds,
            )
            for config in settings.external_issuers
        }
        self.validator = AccessTokenValidator(
            keyring=self.keyring,
            revocations=self.revocations,
            disabled_clients=self.disabled_clients,
            tenant_status=self.tenant_status,
            issuer=settings.issuer,
            audience=settings.audience,
            leeway_seconds=settings.clock_leeway_seconds,
            max_token_bytes=settings.max_token_bytes,
            external_issuers=self.external_issuers,
        )
        self.token_issuer = AccessTokenIssuer(
            self.keyring,
            issuer=settings.issuer,
            audience=settings.audience,
            lifetime_seconds=settings.token_lifetime_seconds,
        )
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._hasher: ClientSecretHasher | None = None
        self._sealer: KeySealer | None = None
        self._links: ImageLinks | None = None
        self._http: httpx.AsyncClient | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise NotStartedError("database engine not started")
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            raise NotStartedError("database sessions not started")
        return self._sessions

    @property
    def image_links(self) -> ImageLinks:
        """Signs and checks the credential-free image URLs (keyed by the pepper)."""
        if self._links is None:
            raise NotStartedError("image links not started")
        return self._links

    @property
    def secret_hasher(self) -> ClientSecretHasher:
        if self._hasher is None:
            raise NotStartedError("secret hasher not started")
        return self._hasher

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        """Connect on start-up, keep revocations and keys in step, release on shutdown.

        A database that is down at start-up does not stop the server: it starts not ready
        (`/health/ready` answers 503) and the sync loop retries.
        """
        pepper = await anyio.to_thread.run_sync(load_pepper, self.settings)
        self._hasher = ClientSecretHasher(pepper)
        self._sealer = KeySealer(pepper)
        self._links = ImageLinks(pepper, lifetime_s=self.settings.image_link_seconds)
        self._engine = create_engine(self.settings.database_url)
        self._sessions = session_factory(self._engine)
        self._http = httpx.AsyncClient(timeout=5.0, follow_redirects=False)
        await self.sync_state(create_key=True)
        await self._start_audit_log()
        task = asyncio.create_task(self._sync_forever(), name="clearance-state-sync")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            if self.audit_log is not None:
                await self.audit_log.close()
            await self._http.aclose()
            await self._engine.dispose()

    async def _start_audit_log(self) -> None:
        signer = await anyio.to_thread.run_sync(load_or_create_signing_key, self.settings.data_dir)
        audit_log = AuditLog(self.engine, signer=signer)
        try:
            await audit_log.start()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("audit log not started (database unavailable): %s", exc)
            return
        self.audit_log = audit_log
        if not self._custom_auth_events:
            self.auth_events = AuditLogAuthEventRecorder(audit_log)

    async def sync_state(self, *, create_key: bool = False) -> bool:
        """Reload signing keys and pick up new revocations; False when the database failed.

        Also deletes the rows of expired client assertions, at most once every
        `ASSERTION_PURGE_SECONDS` in this process.
        """
        assert self._sealer is not None
        now = dt.datetime.now(dt.UTC)
        try:
            async with self.sessions() as session:
                if create_key and not self.keyring.loaded:
                    await ensure_active_key(session, self._sealer, now)
                self.keyring.replace(await load_signing_keys(session, self._sealer, now))
                await self.revocations.sync(session, now)
                await self.disabled_clients.sync(session)
                if self._assertion_purge_due():
                    await purge_expired_assertions(session, now)
            self.tenant_status.forget()
        except (SQLAlchemyError, OSError, TimeoutError) as exc:
            log.warning("database unavailable for state sync: %s", exc)
            return False
        return True

    def _assertion_purge_due(self) -> bool:
        clock = time.monotonic()
        if (
            self._assertions_purged_at is not None
            and clock - self._assertions_purged_at < ASSERTION_PURGE_SECONDS
        ):
            return False
        self._assertions_purged_at = clock
        return True

    async def _sync_forever(self) -> None:
        while True:
            await asyncio.sleep(self.settings.state_sync_seconds)
            await self.sync_state(create_key=not self.keyring.loaded)

    async def _fetch_jwks(self, url: str) -> dict[str, Any]:
        if self._http is None:
            raise NotStartedError("HTTP client not started")
        response = await self._http.get(url, headers={"Accept": "application/json"})
        response.raise_for_status()
        if len(response.content) > _JWKS_MAX_BYTES:
            raise ValueError(f"JWKS at {url} larger than {_JWKS_MAX_BYTES} bytes")
        document = response.json()
        if not isinstance(document, dict):
            raise ValueError(f"JWKS at {url} is not a JSON object")
        return document
