"""The Litestar application. `create_app(settings)` builds it without I/O; the database is
connected in the lifespan."""

from __future__ import annotations

from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import ScalarRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme

from gateway.auth.controllers import IdentityController
from gateway.auth.dependencies import provide_auth_context
from gateway.auth.guards import require_scope
from gateway.auth.middleware import BearerTokenMiddleware
from gateway.health.controllers import HealthController
from gateway.oauth.auth_events import AuthEventRecorder
from gateway.oauth.controllers import OAuthController, WellKnownController
from gateway.oauth.dependencies import (
    RUNTIME_STATE_KEY,
    provide_client_address,
    provide_db_session,
    provide_oauth_service,
    provide_runtime,
)
from gateway.problems import problem_details_plugin
from gateway.runtime import GatewayRuntime
from gateway.settings import Settings

SCHEMA_PATH = "/schema"


def create_app(settings: Settings, *, auth_events: AuthEventRecorder | None = None) -> Litestar:
    runtime = GatewayRuntime(settings, auth_events=auth_events)
    return Litestar(
        route_handlers=[HealthController, OAuthController, WellKnownController, IdentityController],
        dependencies={
            "runtime": Provide(provide_runtime, sync_to_thread=False),
            "db_session": Provide(provide_db_session),
            "oauth_service": Provide(provide_oauth_service, sync_to_thread=False),
            "client_address": Provide(provide_client_address, sync_to_thread=False),
            "auth": Provide(provide_auth_context, sync_to_thread=False),
        },
        middleware=[
            DefineMiddleware(BearerTokenMiddleware, validator=runtime.validator, exclude=[f"^{SCHEMA_PATH}"])
        ],
        guards=[require_scope],
        plugins=[problem_details_plugin()],
        lifespan=[runtime.lifespan],
        state=State({RUNTIME_STATE_KEY: runtime}),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Clearance",
            version="0.1.0",
            description="License-aware registry and gateway for image-generation models.",
            path=SCHEMA_PATH,
            render_plugins=[ScalarRenderPlugin()],
            components=Components(
                security_schemes={
                    "oauth2": SecurityScheme(
                        type="oauth2",
                        description="Client credentials; send the access token as a Bearer token.",
                        flows={  # type: ignore[arg-type]
                            "clientCredentials": {
                                "tokenUrl": f"{settings.issuer}/oauth/token",
                                "scopes": {},
                            }
                        },
                    )
                }
            ),
            security=[{"oauth2": []}],
        ),
    )
