"""`import civitai URL`: fetched through the outbound guard from a Civitai-shaped API on loopback."""

from __future__ import annotations

from collections.abc import AsyncIterator

import civitai_documents as docs
import pytest
from aiohttp import web

from registry.catalog.entries import Catalog
from registry.importers import import_civitai
from registry.importers.errors import FetchError
from registry.importers.fetch import fetch_json
from registry.netguard import AllowEntry, OutboundPolicy


class CivitaiApi:
    def __init__(self, base: str, policy: OutboundPolicy) -> None:
        self.base = base
        self.policy = policy


@pytest.fixture
async def civitai() -> AsyncIterator[CivitaiApi]:
    app = web.Application()

    async def model(request: web.Request) -> web.Response:
        return web.json_response(docs.model(model_id=int(request.match_info["id"]), commercial="Rent"))

    async def version(request: web.Request) -> web.Response:
        return web.json_response(docs.model_version(model_id=42))

    async def to_metadata(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def to_version(request: web.Request) -> web.Response:
        raise web.HTTPFound("/api/v1/model-versions/135931")

    async def huge(request: web.Request) -> web.Response:
        return web.Response(body=b"[" + b"0," * 100_000 + b"0]", content_type="application/json")

    app.router.add_get("/api/v1/models/{id}", model)
    app.router.add_get("/api/v1/model-versions/{id}", version)
    app.router.add_get("/redirect/metadata", to_metadata)
    app.router.add_get("/redirect/version", to_version)

    async def deep(request: web.Request) -> web.Response:
        return web.Response(body=b"[" * 100_000 + b"]" * 100_000, content_type="application/json")

    app.router.add_get("/huge", huge)
    app.router.add_get("/deep", deep)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    policy = OutboundPolicy(allow_http=True, allowlist=(AllowEntry.parse(f"127.0.0.1:{port}"),))
    try:
        yield CivitaiApi(f"http://127.0.0.1:{port}", policy)
    finally:
        await runner.cleanup()


async def test_model_version_url_brings_permissions_from_its_model(
    civitai: CivitaiApi, catalog: Catalog
) -> None:
    result = await import_civitai(
        f"{civitai.base}/api/v1/model-versions/135931", catalog, policy=civitai.policy
    )
    artifact = result.artifact
    assert artifact.id == "civitai/42/135931"
    assert artifact.license == "flux-dev-ncl@1.1.1"
    assert artifact.creator_permissions is not None
    assert [u.value for u in artifact.creator_permissions.allow_commercial_use] == [
        "Image",
        "Rent",
        "RentCivit",
    ]


async def test_redirect_is_followed_and_vetted(civitai: CivitaiApi, catalog: Catalog) -> None:
    result = await import_civitai(f"{civitai.base}/redirect/version", catalog, policy=civitai.policy)
    assert result.artifact.id == "civitai/42/135931"
    with pytest.raises(FetchError, match=r"169\.254\.169\.254"):
        await import_civitai(f"{civitai.base}/redirect/metadata", catalog, policy=civitai.policy)


async def test_loopback_is_refused_without_the_allowlist(civitai: CivitaiApi, catalog: Catalog) -> None:
    with pytest.raises(FetchError, match="refused"):
        await import_civitai(
            f"{civitai.base}/api/v1/models/1", catalog, policy=OutboundPolicy(allow_http=True)
        )
    with pytest.raises(FetchError, match="scheme 'http' not allowed"):
        await import_civitai(f"{civitai.base}/api/v1/models/1", catalog)


async def test_size_cap(civitai: CivitaiApi) -> None:
    with pytest.raises(FetchError, match="cap"):
        await fetch_json(f"{civitai.base}/huge", policy=civitai.policy, max_bytes=1000)
    assert len(await fetch_json(f"{civitai.base}/huge", policy=civitai.policy)) == 100_001


async def test_json_nested_past_the_decoder_is_a_precise_error(civitai: CivitaiApi) -> None:
    with pytest.raises(FetchError, match="/deep: response is not JSON: maximum recursion depth"):
        await fetch_json(f"{civitai.base}/deep", policy=civitai.policy)


async def test_http_errors_are_precise(civitai: CivitaiApi, catalog: Catalog) -> None:
    with pytest.raises(FetchError, match="HTTP 404"):
        await import_civitai(f"{civitai.base}/nothing-here", catalog, policy=civitai.policy)
