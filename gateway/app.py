"""The Litestar application. `create_app(settings)` builds it without I/O; the database is
connected in the lifespan."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, OAuthFlow, OAuthFlows, SecurityScheme
from litestar.types import ControllerRouterHandler

from gateway.api.routers import api_routers
from gateway.auth.controllers import IdentityController
from gateway.auth.dependencies import provide_auth_context
from gateway.auth.middleware import EXCLUDE_FROM_AUTH, BearerTokenMiddleware
from gateway.auth.scopes import Scope
from gateway.catalog.cache import CatalogCache
from gateway.catalog.dependencies import CATALOG_CACHE_STATE_KEY
from gateway.health.controllers import HealthController
from gateway.images.controllers import images_router
from gateway.jobs.controllers import JOBS_RUNTIME_STATE_KEY
from gateway.jobs.pool import RunnerPool
from gateway.jobs.routes import admin_jobs_router, jobs_router
from gateway.jobs.runtime import JobsRuntime
from gateway.metrics.endpoint import metrics_route
from gateway.metrics.instruments import GatewayMetrics, instrument_app
from gateway.nul_guard import refuse_nul
from gateway.oauth.auth_events import AuthEventRecorder
from gateway.oauth.controllers import OAuthController, WellKnownController
from gateway.oauth.dependencies import (
    RUNTIME_STATE_KEY,
    provide_client_address,
    provide_db_session,
    provide_oauth_service,
    provide_runtime,
)
from gateway.openapi_problems import ProblemDocumentingJsonPlugin
from gateway.options_allow import ALLOW_STATE_KEY, allow_by_path, answer_options
from gateway.problems import problem_details_plugin
from gateway.request_ids import RequestIdMiddleware
from gateway.runtime import GatewayRuntime
from gateway.settings import Settings
from gateway.webhooks.controllers import WebhookSecretController

SCHEMA_PATH = "/schema"


def create_app(
    settings: Settings,
    *,
    auth_events: AuthEventRecorder | None = None,
    extra_route_handlers: Sequence[ControllerRouterHandler] = (),
    runner_pool: RunnerPool | None = None,
    freeze_startup_heap: bool = False,
) -> Litestar:
    """The gateway app. `extra_route_handlers` are mounted behind the same authentication,
    guard and error mapping as every built-in route. `runner_pool` replaces the pool built from
    the catalog's runner entries (tests, embedding). `freeze_startup_heap` (what `clearance
    serve` does) moves everything alive once started up out of the collector's way (see
    `_freeze_startup_heap`); leave it off where many apps come and go in one process."""
    runtime = GatewayRuntime(settings, auth_events=auth_events)
    catalog_cache = CatalogCache(lambda: runtime.sessions, refresh_seconds=settings.state_sync_seconds)
    metrics = GatewayMetrics()
    jobs = JobsRuntime(runtime, catalog_cache, pool=runner_pool, metrics=metrics)
    metrics.watch_runners(jobs.pool.runners, jobs.backlog)
    # Off unless a token is set: the route does not exist (404) without one.
    scrape = (
        [metrics_route(metrics, settings.metrics_token, jobs.pool.check_health)]
        if settings.metrics_token
        else []
    )
    app = Litestar(
        route_handlers=[
            HealthController,
            OAuthController,
            WellKnownController,
            IdentityController,
            *api_routers(),
            jobs_router(),
            admin_jobs_router(),
            images_router(),
            WebhookSecretController,
            *scrape,
            *extra_route_handlers,
        ],
        dependencies={
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "db_session": Provide(provide_db_session),
            "oauth_service": Provide(provide_oauth_service, sync_to_thread=False),
            "client_address": Provide(provide_client_address, sync_to_thread=False),
            "auth": Provide(provide_auth_context, sync_to_thread=False),
        },
        middleware=[DefineMiddleware(BearerTokenMiddleware, validator=runtime.validator)],
        before_request=_before_request,
        plugins=[problem_details_plugin()],
        lifespan=[runtime.lifespan, jobs.lifespan, *([_freeze_startup_heap] if freeze_startup_heap else [])],
        state=State(
            {RUNTIME_STATE_KEY: runtime, CATALOG_CACHE_STATE_KEY: catalog_cache, JOBS_RUNTIME_STATE_KEY: jobs}
        ),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Clearance",
            version="0.1.0",
            description="License-aware registry and gateway for image-generation models.",
            # Public docs: the router's opt marks every schema route as excluded from auth.
            openapi_router=Router(
                path=SCHEMA_PATH, route_handlers=[], opt={EXCLUDE_FROM_AUTH: True}, include_in_schema=False
            ),
            render_plugins=[ScalarRenderPlugin(), ProblemDocumentingJsonPlugin()],
            components=Components(
                security_schemes={
                    "oauth2": SecurityScheme(
                        type="oauth2",
                        description="Client credentials; send the access token as a Bearer token.",
                        flows=OAuthFlows(
                            client_credentials=OAuthFlow(
                                token_url=f"{settings.issuer}/oauth/token",
                                scopes={scope.value: scope.name.lower() for scope in Scope},
                            )
                        ),
                    )
                }
            ),
            security=[{"oauth2": []}],
        ),
    )
    app.state[ALLOW_STATE_KEY] = allow_by_path(app)
    instrument_app(app, metrics)
    app.asgi_handler = RequestIdMiddleware(app.asgi_handler)  # outermost: every answer has its id
    return app


async def _before_request(request: Request[Any, Any, Any]) -> Response[None] | None:
    await refuse_nul(request)
    return answer_options(request)


@asynccontextmanager
async def _freeze_startup_heap(_app: Litestar) -> AsyncIterator[None]:
    """Once started up, what is alive (modules, the catalog snapshot, the policy engine and its
    compiled stacks) lives as long as the process: `gc.freeze()` keeps full collections from
    walking it again and again. Measured on the provider path: a full collection walked about
    380,000 objects, three times in the first 5 s of the process (start-up included), and
    switching the collector off saved about 0.1 ms of CPU per request. Frozen objects are still
    freed by reference counting; only frozen objects in reference cycles are never collected."""
    gc.collect()
    gc.freeze()
    yield
