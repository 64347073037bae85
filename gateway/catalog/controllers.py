"""`/v1/models`, `/v1/licenses`, `/v1/agreements`: the catalog as the caller's tenant sees it.

Models and licenses are shared by every tenant (what differs is the purposes each may use a
model for); agreements belong to their holder, and another tenant's answer 404 like a missing one.
"""

from __future__ import annotations

import datetime as dt

from litestar import Controller, MediaType, Response, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath

from gateway.api.errors import ResourceNotFoundError
from gateway.auth.context import AuthContext
from gateway.auth.scopes import Scope
from gateway.catalog.cache import CatalogRevision
from gateway.catalog.dependencies import provide_catalog, provide_today
from gateway.catalog.views import LicenseVersions, ModelList, ModelView, tenant_models, tenant_models_json
from registry.catalog.entries import Agreement

_READ = {"scope": Scope.MODELS_READ}


def _path_id(value: str) -> str:
    """`{name:path}` parameters keep their leading slash; ids such as `org/model` need it gone."""
    return value.lstrip("/")


class ModelsController(Controller):
    path = "/models"
    tags = ["catalog"]
    dependencies = {
        "catalog": Provide(provide_catalog),
        "today": Provide(provide_today, sync_to_thread=False),
    }

    @get("/", opt=_READ, summary="Models as the caller's tenant sees them")
    async def list_models(
        self,
        auth: NamedDependency[AuthContext],
        catalog: NamedDependency[CatalogRevision],
        today: NamedDependency[dt.date],
    ) -> Response[ModelList]:
        """Every model, adapter and component, with its effective licenses and the purposes the
        caller's tenant may use it for today, in OpenAI's list shape (`data`)."""
        encoded = tenant_models_json(catalog, auth.tenant_id, today)
        return Response(encoded, media_type=MediaType.JSON)  # type: ignore[arg-type]

    @get("/{model_id:path}", opt=_READ, summary="One model as the caller's tenant sees it")
    async def get_model(
        self,
        model_id: FromPath[str],
        auth: NamedDependency[AuthContext],
        catalog: NamedDependency[CatalogRevision],
        today: NamedDependency[dt.date],
    ) -> ModelView:
        found = tenant_models(catalog, auth.tenant_id, today).get(_path_id(model_id))
        if found is None:
            raise ResourceNotFoundError("model", _path_id(model_id))
        return found


class LicensesController(Controller):
    path = "/licenses"
    tags = ["catalog"]
    dependencies = {"catalog": Provide(provide_catalog)}

    @get("/{key:str}", opt=_READ, summary="A license's versions, or one version as key@version")
    async def get_license(
        self, key: FromPath[str], catalog: NamedDependency[CatalogRevision]
    ) -> LicenseVersions:
        """`flux-dev-ncl` gives every version of the license; `flux-dev-ncl@2.0` only that one."""
        name, _, version = key.partition("@")
        versions = tuple(
            document
            for document in catalog.catalog.licenses
            if document.key == name and (not version or document.version == version)
        )
        if not versions:
            raise ResourceNotFoundError("license", key)
        return LicenseVersions(key=name, versions=versions)


class AgreementsController(Controller):
    path = "/agreements"
    tags = ["catalog"]
    dependencies = {"catalog": Provide(provide_catalog)}

    @get("/", opt=_READ, summary="The caller's tenant's agreements")
    async def list_agreements(
        self, auth: NamedDependency[AuthContext], catalog: NamedDependency[CatalogRevision]
    ) -> list[Agreement]:
        return [a for a in catalog.catalog.agreements if a.holder == auth.tenant_id]

    @get("/{agreement_id:path}", opt=_READ, summary="One of the caller's tenant's agreements")
    async def get_agreement(
        self,
        agreement_id: FromPath[str],
        auth: NamedDependency[AuthContext],
        catalog: NamedDependency[CatalogRevision],
    ) -> Agreement:
        wanted = _path_id(agreement_id)
        for agreement in catalog.catalog.agreements:
            if agreement.id == wanted and agreement.holder == auth.tenant_id:
                return agreement
        raise ResourceNotFoundError("agreement", wanted)


__all__ = ["AgreementsController", "LicensesController", "ModelsController"]
