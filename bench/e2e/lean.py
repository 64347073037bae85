"""A prototype of a lean synchronous provider path, for measurement only (not served by the
gateway): the same token validation, scope guard, catalog snapshot, policy engine, provider
runner and durable audit as `POST /v1/images/generations`, but the decision and the outcome go
through the audit log's group-committing writer (`AuditLog.append`) instead of job rows and
per-job transactions, and the images are answered from memory instead of the image store.

It answers one question for the design: how close to the targets (3,000 requests/s at c=8,
< 1 ms added at c=1) the provider path gets once the job lifecycle's per-request database
transactions are out of it. It skips quota reservations and webhooks, so it is not a
replacement as it stands.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import secrets
from typing import Any

import msgspec
from litestar import Request, post
from litestar.exceptions import PermissionDeniedException

from gateway.app import create_app
from gateway.auth.context import AuthContext
from gateway.auth.scopes import Scope
from gateway.images.schemas import ImageData, ImagesRequest, ImagesResponse
from gateway.images.translate import read_declaration, to_job_request
from gateway.jobs.controllers import JOBS_RUNTIME_STATE_KEY
from gateway.jobs.resolve import build_task, resolve_request
from gateway.jobs.runtime import JobsRuntime
from gateway.settings import Settings
from registry.audit import EventKind, JobOutcome, NewEvent, job_outcome_event
from registry.policy import PolicyRequest

LEAN_PATH = "/v1/images/generations-lean"


@post(LEAN_PATH, opt={"scope": Scope.JOBS_WRITE}, status_code=200)
async def lean_generate(
    request: Request[Any, Any, Any], data: ImagesRequest, auth: AuthContext
) -> ImagesResponse:
    jobs: JobsRuntime = request.app.state[JOBS_RUNTIME_STATE_KEY]
    job_request = to_job_request(data, read_declaration(request.headers))
    revision = await jobs.catalog.current()
    snapshot = revision.snapshot
    tenant = snapshot.tenants[auth.tenant_id]
    purpose = job_request.purpose or tenant.default_purpose
    assert purpose is not None
    resolved = resolve_request(job_request, snapshot.artifacts, jobs.limits)
    now = dt.datetime.now(dt.UTC)
    job_id = f"job_{secrets.token_hex(12)}"
    for runner in snapshot.candidate_runners(resolved.model.id):
        decision = revision.policy.evaluate(
            PolicyRequest(
                tenant_id=auth.tenant_id,
                model_id=resolved.model.id,
                purpose=purpose,
                date=now.date(),
                runner_id=runner.id,
                output_use=job_request.output_use,
                max_alternatives=0,
            )
        )
        pooled = jobs.pool.get(runner.id)
        if decision.permitted and pooled is not None:
            break
    else:
        raise PermissionDeniedException("no permitted runner")
    audit = jobs.runtime.audit_log
    assert audit is not None
    mode = request.app.state["lean_audit"]
    if mode != "none":
        await audit.append(
            NewEvent(
                kind=EventKind.POLICY_DECISION,
                payload={"job_id": job_id, "runner": runner.id, "decision": msgspec.to_builtins(decision)},
                actor_subject=auth.subject,
                client_id=auth.client_id,
                tenant=auth.tenant_id,
                decision_id=decision.decision_id,
                job_id=job_id,
            )
        )
    result = await pooled.runner.submit(build_task(job_id, resolved, runner))
    outcome = audit.append(
        job_outcome_event(
            JobOutcome(
                job_id=job_id,
                status="succeeded",
                images=len(result.images),
                purpose=purpose.value,
                runner=runner.id,
            ),
            tenant=auth.tenant_id,
            actor_subject=auth.subject,
            client_id=auth.client_id,
            decision_id=decision.decision_id,
        )
    )
    if mode == "both":
        await outcome
    else:
        outcome.close()
    return ImagesResponse(
        created=int(now.timestamp()),
        data=[ImageData(b64_json=base64.b64encode(image.png).decode()) for image in result.images],
        job_id=job_id,
        decision_id=decision.decision_id,
    )


def lean_gateway_app() -> Any:
    """`BENCH_LEAN_AUDIT`: `both` (decision and outcome awaited, the default), `decision` (the
    outcome not written: what an asynchronous outcome append would cost at best), `none`."""
    app = create_app(Settings.from_env(), extra_route_handlers=[lean_generate], freeze_startup_heap=True)
    app.state["lean_audit"] = os.environ.get("BENCH_LEAN_AUDIT", "both")
    return app
