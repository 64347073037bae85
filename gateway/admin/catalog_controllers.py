"""`/admin/licenses`, `/admin/artifacts`, `/admin/tenants`, `/admin/agreements`,
`/admin/runners`, `/admin/operator`.

Bodies are the catalog entries themselves (the Structs of catalog files), so the API and the
files accept the same fields with the same validation. DELETE never deletes: it retires a
license, artifact or tenant, revokes an agreement, disables a runner.
"""

from __future__ import annotations

import datetime as dt

import msgspec
from litestar import Controller, delete, get, patch, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody

from gateway.admin.catalog_service import CatalogAdmin, today
from gateway.admin.dependencies import provide_catalog_admin
from gateway.auth.scopes import Scope
from registry.catalog.entries import (
    Agreement,
    Artifact,
    LicenseDocument,
    Operator,
    Runner,
    Tenant,
    TenantProfile,
)

ADMIN = {"scope": Scope.ADMIN}
_DEPENDENCIES = {"admin": Provide(provide_catalog_admin, sync_to_thread=False)}


def _path_id(value: str) -> str:
    return value.lstrip("/")


class LicenseAdminController(Controller):
    path = "/licenses"
    tags = ["admin"]
    dependencies = _DEPENDENCIES

    @get("/", opt=ADMIN)
    async def list_licenses(self, admin: NamedDependency[CatalogAdmin]) -> list[LicenseDocument]:
        return list((await admin.catalog()).licenses)

    @post("/", opt=ADMIN)
    async def create_license(
        self, data: JSONBody[LicenseDocument], admin: NamedDependency[CatalogAdmin]
    ) -> LicenseDocument:
        """A new license, or a new version of one (a version's terms are fixed once used)."""
        result: LicenseDocument = await admin.create("licenses", data)
        return result

    @get("/{key:str}/{version:str}", opt=ADMIN)
    async def get_license(
        self, key: FromPath[str], version: FromPath[str], admin: NamedDependency[CatalogAdmin]
    ) -> LicenseDocument:
        result: LicenseDocument = await admin.find("licenses", f"{key}@{version}")
        return result

    @put("/{key:str}/{version:str}", opt=ADMIN)
    async def update_license(
        self,
        key: FromPath[str],
        version: FromPath[str],
        data: JSONBody[LicenseDocument],
        admin: NamedDependency[CatalogAdmin],
    ) -> LicenseDocument:
        """Metadata may change; terms only while no artifact or runner uses the version (409)."""
        result: LicenseDocument = await admin.update("licenses", f"{key}@{version}", data)
        return result

    @delete("/{key:str}/{version:str}", opt=ADMIN, status_code=200)
    async def retire_license(
        self, key: FromPath[str], version: FromPath[str], admin: NamedDependency[CatalogAdmin]
    ) -> LicenseDocument:
        result: LicenseDocument = await admin.change("licenses", f"{key}@{version}", "retire", retired=True)
        return result


class ArtifactAdminController(Controller):
    path = "/artifacts"
    tags = ["admin"]
    dependencies = _DEPENDENCIES

    @get("/", opt=ADMIN)
    async def list_artifacts(self, admin: NamedDependency[CatalogAdmin]) -> list[Artifact]:
        return list((await admin.catalog()).artifacts)

    @post("/", opt=ADMIN)
    async def create_artifact(
        self, data: JSONBody[Artifact], admin: NamedDependency[CatalogAdmin]
    ) -> Artifact:
        result: Artifact = await admin.create("artifacts", data)
        return result

    @get("/{artifact_id:path}", opt=ADMIN)
    async def get_artifact(
        self, artifact_id: FromPath[str], admin: NamedDependency[CatalogAdmin]
    ) -> Artifact:
        result: Artifact = await admin.find("artifacts", _path_id(artifact_id))
        return result

    @put("/{artifact_id:path}", opt=ADMIN)
    async def update_artifact(
        self, artifact_id: FromPath[str], data: JSONBody[Artifact], admin: NamedDependency[CatalogAdmin]
    ) -> Artifact:
        result: Artifact = await admin.update("artifacts", _path_id(artifact_id), data)
        return result

    @delete("/{artifact_id:path}", opt=ADMIN, status_code=200)
    async def retire_artifact(
        self, artifact_id: FromPath[str], admin: NamedDependency[CatalogAdmin]
    ) -> Artifact:
        result: Artifact = await admin.change("artifacts", _path_id(artifact_id), "retire", retired=True)
        return result


class TenantAdminController(Controller):
    path = "/tenants"
    tags = ["admin"]
    dependencies = _DEPENDENCIES

    @get("/", opt=ADMIN)
    async def list_tenants(self, admin: NamedDependency[CatalogAdmin]) -> list[Tenant]:
        return list((await admin.catalog()).tenants)

    @post("/", opt=ADMIN)
    async def create_tenant(self, data: JSONBody[Tenant], admin: NamedDependency[CatalogAdmin]) -> Tenant:
        result: Tenant = await admin.create("tenants", data)
        return result

    @get("/{tenant_id:str}", opt=ADMIN)
    async def get_tenant(self, tenant_id: FromPath[str], admin: NamedDependency[CatalogAdmin]) -> Tenant:
        result: Tenant = await admin.find("tenants", tenant_id)
        return result

    @put("/{tenant_id:str}", opt=ADMIN)
    async def update_tenant(
        self, tenant_id: FromPath[str], data: JSONBody[Tenant], admin: NamedDependency[CatalogAdmin]
    ) -> Tenant:
        result: Tenant = await admin.update("tenants", tenant_id, data)
        return result

    @put("/{tenant_id:str}/profile", opt=ADMIN)
    async def update_profile(
        self, tenant_id: FromPath[str], data: JSONBody[TenantProfile], admin: NamedDependency[CatalogAdmin]
    ) -> Tenant:
        """The facts the policy judges a tenant on (revenue, users, regions, organisation type)."""
        result: Tenant = await admin.change("tenants", tenant_id, "profile.update", profile=data)
        return result

    @delete("/{tenant_id:str}", opt=ADMIN, status_code=200)
    async def retire_tenant(self, tenant_id: FromPath[str], admin: NamedDependency[CatalogAdmin]) -> Tenant:
        result: Tenant = await admin.change("tenants", tenant_id, "retire", retired=True)
        return result


class AgreementAdminController(Controller):
    path = "/agreements"
    tags = ["admin"]
    dependencies = _DEPENDENCIES

    @get("/", opt=ADMIN)
    async def list_agreements(
        self, admin: NamedDependency[CatalogAdmin], holder: FromQuery[str | None] = None
    ) -> list[Agreement]:
        agreements = (await admin.catalog()).agreements
        return [a for a in agreements if holder is None or a.holder == holder]

    @post("/", opt=ADMIN)
    async def create_agreement(
        self, data: JSONBody[Agreement], admin: NamedDependency[CatalogAdmin]
    ) -> Agreement:
        result: Agreement = await admin.create("agreements", data)
        return result

    @get("/{agreement_id:path}", opt=ADMIN)
    async def get_agreement(
        self, agreement_id: FromPath[str], admin: NamedDependency[CatalogAdmin]
    ) -> Agreement:
        result: Agreement = await admin.find("agreements", _path_id(agreement_id))
        return result

    @put("/{agreement_id:path}", opt=ADMIN)
    async def update_agreement(
        self, agreement_id: FromPath[str], data: JSONBody[Agreement], admin: NamedDependency[CatalogAdmin]
    ) -> Agreement:
        result: Agreement = await admin.update("agreements", _path_id(agreement_id), data)
        return result

    @delete("/{agreement_id:path}", opt=ADMIN, status_code=200)
    async def revoke_agreement(
        self,
        agreement_id: FromPath[str],
        admin: NamedDependency[CatalogAdmin],
        on: FromQuery[dt.date | None] = None,
    ) -> Agreement:
        """Revoke from `on` (default today, UTC); the agreement stops counting that day."""
        result: Agreement = await admin.change(
            "agreements", _path_id(agreement_id), "revoke", revoked_at=on or today()
        )
        return result


class RunnerHold(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    paused: bool
    """True: hold the runner for maintenance; False: resume it."""


class RunnerAdminController(Controller):
    path = "/runners"
    tags = ["admin"]
    dependencies = _DEPENDENCIES

    @get("/", opt=ADMIN)
    async def list_runners(self, admin: NamedDependency[CatalogAdmin]) -> list[Runner]:
        return list((await admin.catalog()).runners)

    @post("/", opt=ADMIN)
    async def create_runner(self, data: JSONBody[Runner], admin: NamedDependency[CatalogAdmin]) -> Runner:
        result: Runner = await admin.create("runners", data)
        return result

    @get("/{runner_id:path}", opt=ADMIN)
    async def get_runner(self, runner_id: FromPath[str], admin: NamedDependency[CatalogAdmin]) -> Runner:
        result: Runner = await admin.find("runners", _path_id(runner_id))
        return result

    @put("/{runner_id:path}", opt=ADMIN)
    async def update_runner(
        self, runner_id: FromPath[str], data: JSONBody[Runner], admin: NamedDependency[CatalogAdmin]
    ) -> Runner:
        result: Runner = await admin.update("runners", _path_id(runner_id), data)
        return result

    @patch("/{runner_id:path}", opt=ADMIN)
    async def pause_runner(
        self, runner_id: FromPath[str], data: JSONBody[RunnerHold], admin: NamedDependency[CatalogAdmin]
    ) -> Runner:
        """Pause a runner for maintenance, or resume it: `{"paused": true|false}`. While paused,
        jobs routed to it wait queued and none starts on it, in every gateway process (within
        CLEARANCE_STATE_SYNC_SECONDS); jobs running on it finish. Audited (`runner.pause`,
        `runner.resume`)."""
        verb = "pause" if data.paused else "resume"
        result: Runner = await admin.change("runners", _path_id(runner_id), verb, paused=data.paused)
        return result

    @delete("/{runner_id:path}", opt=ADMIN, status_code=200)
    async def disable_runner(self, runner_id: FromPath[str], admin: NamedDependency[CatalogAdmin]) -> Runner:
        result: Runner = await admin.change("runners", _path_id(runner_id), "disable", enabled=False)
        return result


class OperatorAdminController(Controller):
    path = "/operator"
    tags = ["admin"]
    dependencies = _DEPENDENCIES

    @get("/", opt=ADMIN)
    async def get_operator(self, admin: NamedDependency[CatalogAdmin]) -> Operator:
        result: Operator = await admin.find("operator", "operator")
        return result

    @put("/", opt=ADMIN)
    async def update_operator(
        self, data: JSONBody[Operator], admin: NamedDependency[CatalogAdmin]
    ) -> Operator:
        """The operator's profile: it is a licensee itself whenever its runners host weights."""
        return await admin.put_operator(data)
