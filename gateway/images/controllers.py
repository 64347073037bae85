"""`POST /v1/images/generations`: HTTP in and out; the work is `generate_images`'s."""

from __future__ import annotations

import time
from typing import Annotated, Any

from litestar import Controller, Request, Response, Router, get, post
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody

from gateway.auth.dependencies import provide_auth_context
from gateway.auth.middleware import EXCLUDE_FROM_AUTH
from gateway.auth.scopes import Scope
from gateway.images.problems import images_exception_handlers
from gateway.images.schemas import ImagesRequest, ImagesResponse
from gateway.images.service import generate_images
from gateway.images.translate import read_declaration, to_job_request
from gateway.jobs.controllers import JOBS_RUNTIME_STATE_KEY, provide_job_service
from gateway.jobs.service import JobService
from gateway.oauth.dependencies import RUNTIME_STATE_KEY
from gateway.runtime import GatewayRuntime
from gateway.storage.links import ImageLinks


class ImagesController(Controller):
    path = "/images"
    tags = ["images"]

    @post("/generations", opt={"scope": Scope.JOBS_WRITE}, status_code=200)
    async def generate(
        self,
        request: Request[Any, Any, Any],
        data: JSONBody[ImagesRequest],
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
    ) -> ImagesResponse:
        """OpenAI Images API: generate synchronously under the licenses and agreements. Declare
        the use with `Clearance-Purpose`, `Clearance-Output-Use` and `Clearance-Use-Cases`."""
        # The caller and the service come from their providers called here, not as Litestar
        # dependencies: resolving those two cost 22 us per request on this, the hottest route.
        auth = provide_auth_context(request)
        jobs = provide_job_service(request.app.state, auth)
        job_request = to_job_request(data, read_declaration(request.headers))
        body = await request.body() if idempotency_key is not None else None
        return await generate_images(
            jobs,
            auth,
            job_request,
            response_format=data.response_format,
            base_url=str(request.base_url),
            links=_links(request),
            idempotency_key=idempotency_key,
            body=body,
        )

    @get("/files/{job_id:str}/{index:int}", opt={EXCLUDE_FROM_AUTH: True}, media_type="image/png")
    async def file(
        self,
        request: Request[Any, Any, Any],
        job_id: FromPath[str],
        index: FromPath[int],
        expires: FromQuery[int],
        signature: FromQuery[str],
    ) -> Response[bytes]:
        """An image by the signed link that `response_format=url` answered with: no credentials,
        until the link expires (`CLEARANCE_IMAGE_LINK_SECONDS`, 1 hour by default)."""
        now = time.time()
        _links(request).check(job_id, index, expires, signature, now=now)
        jobs: JobService = request.app.state[JOBS_RUNTIME_STATE_KEY].service
        runtime: GatewayRuntime = request.app.state[RUNTIME_STATE_KEY]
        png = await jobs.linked_image(job_id, index, tenant_active=runtime.tenant_status.is_active)
        return Response(
            png, media_type="image/png", headers={"Cache-Control": f"private, max-age={expires - int(now)}"}
        )


def _links(request: Request[Any, Any, Any]) -> ImageLinks:
    runtime: GatewayRuntime = request.app.state[RUNTIME_STATE_KEY]
    return runtime.image_links


def images_router() -> Router:
    return Router(
        path="/v1", route_handlers=[ImagesController], exception_handlers=images_exception_handlers()
    )
