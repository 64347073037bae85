"""Everything the jobs API holds for the app's lifetime: the runner pool, the executor, and the
webhook and licensor-report workers. Built without I/O in `create_app`, started in its lifespan
(after `GatewayRuntime`'s, whose database sessions it uses)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any

from gateway.catalog.cache import CatalogCache, CatalogRevision
from gateway.delivery.config import image_store, licensor_credentials, outbound_policy, retry_schedule
from gateway.delivery.http import OutboundPoster
from gateway.delivery.usage_reports import OutboxWorker, parse_licensor_credentials
from gateway.jobs.config import JobLimits
from gateway.jobs.dispatch import Dispatcher
from gateway.jobs.events import JobEventHub
from gateway.jobs.executor import JobExecutor
from gateway.jobs.limits import WINDOW_S, TenantRateLimiter
from gateway.jobs.pool import RunnerFactory, RunnerPool, default_factory
from gateway.jobs.service import JobService
from gateway.jobs.tenant_limits import TenantLimitTable
from gateway.metrics.instruments import GatewayMetrics
from gateway.runtime import GatewayRuntime, NotStartedError
from gateway.settings import Settings, SettingsError
from gateway.webhooks import WebhookDispatcher
from registry.db.engine import is_sqlite, session_factory
from registry.db.inline_sqlite import create_inline_sqlite_engine
from registry.delivery.idempotency import IdempotencyStore
from registry.jobs import rate
from registry.jobs.writer import JobWriter, WorkContext

log = logging.getLogger(__name__)

HOUSEKEEPING_SECONDS = 3600.0


def job_limits(settings: Settings) -> JobLimits:
    return JobLimits(
        queue_depth=settings.job_queue_depth,
        concurrency=settings.job_concurrency,
        rate_per_minute=settings.job_rate_per_minute,
        lease_s=settings.job_lease_seconds,
        max_restarts=settings.job_max_restarts,
    )


def provider_keys(settings: Settings) -> dict[str, str]:
    try:
        return parse_licensor_credentials(settings.provider_api_keys)
    except ValueError as exc:
        raise SettingsError(f"CLEARANCE_PROVIDER_API_KEYS: {exc}") from exc


def runner_factory(settings: Settings) -> RunnerFactory:
    """The runners the settings configure: provider keys and the providers' proxy."""
    return default_factory(provider_keys(settings), proxy=settings.provider_proxy or None)


class JobsRuntime:
    def __init__(
        self,
        runtime: GatewayRuntime,
        catalog: CatalogCache,
        *,
        pool: RunnerPool | None = None,
        limits: JobLimits | None = None,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        settings = runtime.settings
        self.runtime = runtime
        self.catalog = catalog
        self.limits = limits or job_limits(settings)
        self.tenant_limits = TenantLimitTable(self.limits)
        """Each tenant's own limits (its catalog entry's) over `limits`."""
        self.pool = pool or RunnerPool(runner_factory(settings))
        self.outbound = outbound_policy(settings)
        self.store = image_store(settings)
        self.owner = f"gw_{secrets.token_hex(8)}"
        """This process's name on the leases of the jobs it executes."""
        self.metrics = metrics
        self.hub = JobEventHub(metrics.jobs.observe if metrics is not None else None)
        self._service: JobService | None = None
        self.executor: JobExecutor | None = None
        self.writer: JobWriter | None = None
        self.webhooks: WebhookDispatcher | None = None
        self.reports: OutboxWorker | None = None

    @property
    def service(self) -> JobService:
        if self._service is None:
            raise NotStartedError("jobs runtime not started")
        return self._service

    def backlog(self, runner_id: str) -> int:
        """Jobs waiting in this process's queue for the runner (0 before start-up)."""
        return self.executor.backlog(runner_id) if self.executor is not None else 0

    def _poster(self, kind: str) -> OutboundPoster:
        if self.metrics is None:
            return OutboundPoster(self.outbound)
        return self.metrics.delivery.poster(kind, self.outbound)

    def wake_delivery(self) -> None:
        """Wake this process's delivery workers: a message is due now."""
        self._notify()

    def _notify(self) -> None:
        for worker in (self.webhooks, self.reports):
            if worker is not None:
                worker.notify()

    async def _revision(self) -> CatalogRevision:
        revision = await self.catalog.current()
        self.tenant_limits.update(revision.catalog)
        return revision

    async def _housekeeping(self) -> None:
        """Hourly: images past their retention, idempotency keys past 24 hours, the submission
        counts of minutes gone by."""
        while True:
            now = dt.datetime.now(dt.UTC)
            try:
                purged = await self.store.purge(now=now)
                keys = await self.service.idempotency.purge(now=now)
                async with self.runtime.sessions() as session, session.begin():
                    windows = await rate.purge_before(session, int(now.timestamp()) // WINDOW_S)
                if purged or keys or windows:
                    log.info(
                        "purged %d expired images, %d idempotency keys and %d rate windows",
                        purged,
                        keys,
                        windows,
                    )
            except Exception as exc:  # the database may be down; next hour again
                log.warning("jobs housekeeping failed: %s", exc)
            await asyncio.sleep(HOUSEKEEPING_SECONDS)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: Any = None) -> AsyncIterator[None]:
        runtime = self.runtime
        settings = runtime.settings
        sessions = runtime.sessions
        schedule = retry_schedule(settings)
        self.webhooks = WebhookDispatcher(sessions, self._poster("webhook"), schedule=schedule)
        self.reports = OutboxWorker(
            sessions, self._poster("licensor_report"), licensor_credentials(settings), schedule=schedule
        )
        # On SQLite the writer gets its own connection whose statements run inline (see
        # registry/db/inline_sqlite.py); on PostgreSQL it shares the pool.
        writer_engine = None
        if is_sqlite(settings.database_url) and runtime.engine.url.database not in (None, "", ":memory:"):
            writer_engine = create_inline_sqlite_engine(str(runtime.engine.url.database))
        self.writer = JobWriter(session_factory(writer_engine) if writer_engine is not None else sessions)
        self.executor = JobExecutor(
            sessions,
            self.writer,
            self.pool,
            self.hub,
            self.store,
            self.limits,
            owner=self.owner,
            catalog=self._revision,
            notify=self._notify,
            tenant_limits=self.tenant_limits,
        )
        dispatcher = Dispatcher(
            sessions=sessions,
            pool=self.pool,
            limits=self.limits,
            outbound=self.outbound,
            rate_limiter=TenantRateLimiter(
                self.limits.rate_per_minute,
                functools.partial(_lease_rate, self.writer, self.tenant_limits.rate_per_minute),
                limit_of=self.tenant_limits.rate_per_minute,
            ),
            stats=self.executor,
            owner=self.owner,
            writer=self.writer,
            tenant_limits=self.tenant_limits,
            strict_policy=settings.strict_policy,
            audit_log=lambda: runtime.audit_log,
        )
        self._service = JobService(
            sessions,
            self.catalog,
            dispatcher,
            self.executor,
            self.hub,
            self.store,
            IdempotencyStore(sessions),
        )
        try:
            self.pool.sync((await self._revision()).catalog)  # the tenants' limits read too
        except Exception as exc:  # the database may be down: recovery retries in the loop
            log.warning("runner pool not built at start-up: %s", exc)
        self.webhooks.start()
        self.reports.start()
        self.executor.start()
        housekeeping = asyncio.create_task(self._housekeeping(), name="jobs-housekeeping")
        try:
            yield
        finally:
            housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await housekeeping
            await self.executor.stop()
            await self.writer.close()
            if writer_engine is not None:
                await writer_engine.dispose()
            for worker in (self.webhooks, self.reports):
                await worker.stop()
                await worker.poster.close()
            await self.pool.close()
            await self.catalog.close()


async def _lease_rate(
    writer: JobWriter, limit_of: Callable[[str], int], tenant_id: str, minute: int, amount: int
) -> int:
    """Lease submissions of a tenant's minute (`registry.jobs.rate`) under its own limit, written
    with the admissions of the moment."""
    limit = limit_of(tenant_id)

    async def take(context: WorkContext) -> int:
        return await rate.lease(context.session, tenant_id, minute, amount, limit)

    return await writer.run(take)
