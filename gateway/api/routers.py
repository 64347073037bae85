"""The `/v1` and `/admin` routers, with the API's problem mapping and the catalog cache.

`create_app` mounts `api_routers()`; the app-level guard checks each route's scope, so every
route here names one in its `opt` (the admin routes `admin`).
"""

from __future__ import annotations

from litestar import Router
from litestar.di import Provide

from gateway.admin.catalog_controllers import (
    AgreementAdminController,
    ArtifactAdminController,
    LicenseAdminController,
    OperatorAdminController,
    RunnerAdminController,
    TenantAdminController,
)
from gateway.admin.client_controllers import ClientAdminController
from gateway.admin.imports import ImportAdminController
from gateway.api.problems import api_exception_handlers
from gateway.audit.controllers import AdminAuditController, TenantAuditController, UsageReportController
from gateway.catalog.controllers import AgreementsController, LicensesController, ModelsController
from gateway.catalog.dependencies import provide_catalog_cache
from gateway.jobs.usage import UsageController
from gateway.policy.controllers import PolicyController


def api_routers() -> list[Router]:
    shared = {
        "exception_handlers": api_exception_handlers(),
        "dependencies": {"catalog_cache": Provide(provide_catalog_cache, sync_to_thread=False)},
    }
    v1 = Router(
        path="/v1",
        route_handlers=[
            ModelsController,
            LicensesController,
            AgreementsController,
            PolicyController,
            TenantAuditController,
            UsageController,
        ],
        **shared,  # type: ignore[arg-type]
    )
    admin = Router(
        path="/admin",
        route_handlers=[
            LicenseAdminController,
            ArtifactAdminController,
            TenantAdminController,
            AgreementAdminController,
            RunnerAdminController,
            OperatorAdminController,
            ClientAdminController,
            ImportAdminController,
            AdminAuditController,
            UsageReportController,
        ],
        **shared,  # type: ignore[arg-type]
    )
    return [v1, admin]
