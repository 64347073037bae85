"""`POST /v1/policy/evaluate` needs `models:read`: it is a read-only question about the catalog
(nothing is generated, metered or written to the audit log), so the clients that browse models
can ask it before they hold `jobs:write`."""

from __future__ import annotations

import datetime as dt

from litestar import Controller, post
from litestar.di import NamedDependency, Provide
from litestar.params import JSONBody

from gateway.api.errors import ResourceNotFoundError
from gateway.auth.context import AuthContext
from gateway.auth.errors import InsufficientScopeError
from gateway.auth.scopes import Scope
from gateway.catalog.cache import CatalogRevision
from gateway.catalog.dependencies import provide_catalog, provide_today
from gateway.policy.schemas import EvaluationRequest, EvaluationResult
from gateway.runtime import GatewayRuntime
from registry.policy import PolicyRequest


class PolicyController(Controller):
    path = "/policy"
    tags = ["policy"]
    dependencies = {
        "catalog": Provide(provide_catalog),
        "today": Provide(provide_today, sync_to_thread=False),
    }

    @post("/evaluate", opt={"scope": Scope.MODELS_READ}, status_code=200, summary="Policy dry run")
    async def evaluate(
        self,
        data: JSONBody[EvaluationRequest],
        auth: NamedDependency[AuthContext],
        catalog: NamedDependency[CatalogRevision],
        today: NamedDependency[dt.date],
        runtime: NamedDependency[GatewayRuntime],
    ) -> EvaluationResult:
        """The full decision (reasons with clauses, obligations, effective licenses,
        alternatives) for the caller's tenant; admins may name another tenant."""
        tenant_id = auth.tenant_id
        if data.tenant_id is not None and data.tenant_id != auth.tenant_id:
            if not auth.has_scope(Scope.ADMIN):
                raise InsufficientScopeError(Scope.ADMIN)
            if not any(tenant.id == data.tenant_id for tenant in catalog.catalog.tenants):
                raise ResourceNotFoundError("tenant", data.tenant_id)
            tenant_id = data.tenant_id
        date = data.date or today
        decision = catalog.policy.evaluate(
            PolicyRequest(
                tenant_id=tenant_id,
                model_id=data.model_id,
                purpose=data.purpose,
                date=date,
                adapter_ids=data.adapter_ids,
                runner_id=data.runner_id,
                output_use=data.output_use,
                use_cases=data.use_cases,
                end_user_regions=data.end_user_regions,
                strict=runtime.settings.strict_policy,
                profile_override=data.profile_override,
                max_alternatives=data.max_alternatives,
            )
        )
        clauses = tuple(dict.fromkeys(reason.clause for reason in decision.deciding_reasons()))
        return EvaluationResult(tenant_id=tenant_id, date=date, decision=decision, deciding_clauses=clauses)
