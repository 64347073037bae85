"""`POST /v1/images/generations` driven by the official `openai` client against a real uvicorn
server on loopback: the same licenses, agreements, runners and audit as `/v1/jobs`."""

from __future__ import annotations

import asyncio
import base64
import io
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import msgspec
import openai
import pytest
from PIL import Image

from gateway.app import create_app
from gateway.demo.catalog import HOBBY, LOCAL_FLUX2, STUDIO, STUDIO_AGREEMENT, demo_catalog
from gateway.demo.models import ensure_tiny_models
from gateway.demo.setup import load_demo_catalog
from gateway.jobs.tiny_catalog import TINY_FLUX2, TINY_FLUX2_TURBO, TINY_SD
from gateway.oauth.pepper import load_pepper
from gateway.settings import Settings
from gateway.storage.links import ImageLinks
from registry.audit import EventKind, EventQuery, query_events
from registry.db import migrate
from registry.db.engine import create_engine, session_factory
from tests.gateway.auth.conftest import create_client, make_settings
from tests.gateway.images.loopback_server import LoopbackServer

COMMERCIAL = {"Clearance-Purpose": "commercial_product", "Clearance-Output-Use": "publish"}


@dataclass
class Served:
    base_url: str
    database_url: str
    tokens: dict[str, str]
    settings: Settings

    def client(self, tenant: str) -> openai.OpenAI:
        return openai.OpenAI(api_key=self.tokens[tenant], base_url=f"{self.base_url}/v1", max_retries=0)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """The demo's catalog (tiny FLUX.2 + Turbo and SD under their real licenses, a hobbyist and a
    licensed studio), except that the hobbyist has no default purpose."""
    directory: Path = tmp_path_factory.mktemp("images-gateway")
    url = f"sqlite+aiosqlite:///{directory / 'clearance.db'}"
    settings = make_settings(directory, url)
    migrate.upgrade(url)
    models, _ = ensure_tiny_models(directory / "models")
    site = demo_catalog(models)
    tenants = tuple(
        msgspec.structs.replace(t, default_purpose=None) if t.id == HOBBY else t for t in site.tenants
    )
    asyncio.run(load_demo_catalog(settings, msgspec.structs.replace(site, tenants=tenants)))
    tokens = {}
    with LoopbackServer(create_app(settings)) as server:
        for tenant in (HOBBY, STUDIO):
            client = asyncio.run(create_client(settings, tenant=tenant, scopes="jobs:write jobs:read"))
            assert client.client_secret is not None
            response = httpx.post(
                f"{server.base_url}/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(client.client_id, client.client_secret),
            )
            assert response.status_code == 200, response.text
            tokens[tenant] = response.json()["access_token"]
        yield Served(server.base_url, url, tokens, settings)


def _data(result: openai.types.ImagesResponse) -> list[openai.types.Image]:
    assert result.data is not None
    return result.data


def _png(b64: str | None) -> Image.Image:
    assert b64 is not None
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def test_the_licensed_tenant_gets_b64_images_from_the_self_hosted_runner(served: Served) -> None:
    result = served.client(STUDIO).images.generate(
        model=TINY_FLUX2,
        prompt="a lighthouse at dusk",
        n=2,
        size="32x32",
        extra_headers=COMMERCIAL,
        extra_body={"steps": 2, "seed": 7},
    )
    assert len(_data(result)) == 2
    assert _png(_data(result)[0].b64_json).size == (32, 32)
    extra = result.model_extra or {}
    job = httpx.get(
        f"{served.base_url}/v1/jobs/{extra['job_id']}",
        headers={"Authorization": f"Bearer {served.tokens[STUDIO]}"},
    ).json()
    assert job["runner"] == LOCAL_FLUX2
    assert STUDIO_AGREEMENT in job["decision"]["agreements"]
    assert job["decision"]["id"] == extra["decision_id"]


def test_a_commercial_request_without_agreement_is_a_permission_error_with_clauses(served: Served) -> None:
    with pytest.raises(openai.PermissionDeniedError) as caught:
        served.client(HOBBY).images.generate(
            model=TINY_FLUX2,
            prompt="a lighthouse at dusk",
            size="32x32",
            extra_headers=COMMERCIAL,
            extra_body={"adapters": [{"id": TINY_FLUX2_TURBO}], "steps": 2},
        )
    error = caught.value
    assert error.status_code == 403
    assert error.code == "license_denied"
    assert error.type == "urn:clearance:problem:license-denied"
    assert isinstance(error.body, dict)
    assert any(r["license"] == "flux-dev-ncl@2.0" and r["clause"] for r in error.body["reasons"])
    assert error.body["alternatives"]
    assert error.response.headers["x-should-retry"] == "false"

    async def denials() -> list[str | None]:
        engine = create_engine(served.database_url)
        try:
            async with session_factory(engine)() as session:
                page = await query_events(session, EventQuery(kind=EventKind.POLICY_DECISION, tenant=HOBBY))
        finally:
            await engine.dispose()
        return [e.decision_id for e in page.events]

    assert error.body["decision_id"] in asyncio.run(denials())


def test_the_tenants_default_purpose_and_url_responses(served: Served) -> None:
    """Without a declared purpose the tenant's default applies; the hobbyist has none: 422."""
    studio = served.client(STUDIO).images.generate(model=TINY_FLUX2, prompt="a red bicycle", size="32x32")
    assert _data(studio)[0].b64_json
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        served.client(HOBBY).images.generate(model=TINY_SD, prompt="a red bicycle", size="32x32")
    assert caught.value.code == "invalid_request"
    assert getattr(caught.value, "param", None) == "purpose"

    result = served.client(HOBBY).images.generate(
        model=TINY_SD,
        prompt="a red bicycle",
        response_format="url",
        extra_headers={"Clearance-Purpose": "personal"},
    )
    url = _data(result)[0].url
    assert url is not None
    assert url.startswith(served.base_url + "/v1/images/files/")
    png = httpx.get(url)  # as OpenAI's URLs: no credentials
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"].startswith("private, max-age=")
    job_id = result.model_extra["job_id"] if result.model_extra else None
    same = httpx.get(
        f"{served.base_url}/v1/jobs/{job_id}/images/0",
        headers={"Authorization": f"Bearer {served.tokens[HOBBY]}"},
    )
    assert same.status_code == 200
    assert png.content == same.content


def test_an_image_link_cannot_be_widened_or_used_after_it_expired(served: Served) -> None:
    result = served.client(STUDIO).images.generate(
        model=TINY_SD, prompt="a red bicycle", response_format="url", size="32x32"
    )
    url = _data(result)[0].url
    assert url is not None
    path, _, query = url.partition("?")
    fields = dict(item.split("=", 1) for item in query.split("&"))
    job_id = path.rsplit("/", 2)[1]
    links = ImageLinks(load_pepper(served.settings), lifetime_s=3600)
    expired = links.path(job_id, 0, now=time.time() - 3601)  # signed here, an hour ago
    tampered = [
        f"{path}?expires={fields['expires']}&signature={fields['signature'][:-2]}AA",
        f"{path}?expires={int(fields['expires']) + 3600}&signature={fields['signature']}",
        f"{path[:-1]}1?{query}",  # another index of the same job
        served.base_url + expired,
    ]
    for forged in tampered:
        refused = httpx.get(forged)
        assert refused.status_code == 403, forged
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["type"].endswith("image-link-invalid")
    assert "expired" in httpx.get(served.base_url + expired).json()["detail"]
    assert httpx.get(path).status_code == 422  # no expiry nor signature: invalid request
    assert httpx.get(url).status_code == 200


@pytest.mark.parametrize(
    ("kwargs", "param"),
    [
        ({"size": "33x32"}, "size"),
        ({"size": "big"}, "size"),
        ({"n": 9}, "n"),
        ({"quality": "ultra"}, "quality"),
        ({"extra_body": {"tenant_id": "studio"}}, "tenant_id"),
        ({"extra_headers": {"Clearance-Purpose": "fun"}}, "Clearance-Purpose"),
        ({"extra_headers": {"Clearance-Use-Cases": "medical_advice,nope"}}, "Clearance-Use-Cases"),
        (
            {"extra_headers": {"Clearance-Purpose": "personal"}, "extra_body": {"purpose": "research"}},
            "Clearance-Purpose",
        ),
    ],
)
def test_bad_input_names_the_field(served: Served, kwargs: dict[str, object], param: str) -> None:
    arguments: dict[str, object] = {"model": TINY_SD, "prompt": "a red bicycle", **kwargs}
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        served.client(STUDIO).images.generate(**arguments)  # type: ignore[call-overload]
    assert getattr(caught.value, "param", None) == param, caught.value.body
    assert caught.value.response.headers["content-type"].startswith("application/problem+json")


def test_an_invalid_token_is_an_authentication_error(served: Served) -> None:
    client = openai.OpenAI(api_key="not-a-token", base_url=f"{served.base_url}/v1", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.images.generate(model=TINY_SD, prompt="a red bicycle")


def test_a_retry_with_the_same_idempotency_key_answers_from_the_same_job(served: Served) -> None:
    def generate() -> openai.types.ImagesResponse:
        return served.client(STUDIO).images.generate(
            model=TINY_SD,
            prompt="a red bicycle",
            size="32x32",
            extra_headers={"Idempotency-Key": "images-retry-1"},
        )

    first, again = generate(), generate()
    assert (first.model_extra or {})["job_id"] == (again.model_extra or {})["job_id"]
    assert _data(first)[0].b64_json == _data(again)[0].b64_json


def _token_class_of_the_docs() -> type:
    """`ClearanceToken` as docs/images.md prints it (its second Python block, up to the client)."""
    text = (Path(__file__).parents[3] / "docs" / "images.md").read_text()
    block = text.split("```python\n")[2].split("```")[0]
    namespace: dict[str, object] = {}
    exec(block.split("\nclient = ")[0], namespace)  # the class and its imports
    token_class = namespace["ClearanceToken"]
    assert isinstance(token_class, type)
    return token_class


def test_the_documented_token_provider_keeps_a_long_running_client_authenticated(served: Served) -> None:
    registered = asyncio.run(create_client(served.settings, tenant=STUDIO, scopes="jobs:write jobs:read"))
    assert registered.client_secret is not None
    provider = _token_class_of_the_docs()(served.base_url, registered.client_id, registered.client_secret)
    client = openai.OpenAI(api_key=provider, base_url=f"{served.base_url}/v1", max_retries=0)
    first = client.images.generate(model=TINY_FLUX2, prompt="a red bicycle", size="32x32")
    token = provider.token
    second = client.images.generate(model=TINY_FLUX2, prompt="a blue bicycle", size="32x32")
    assert provider.token == token  # fetched once, kept while it lives
    provider.renew_at = 0.0  # as when it is a minute from expiring
    third = client.images.generate(model=TINY_FLUX2, prompt="a green bicycle", size="32x32")
    assert provider.token != token
    assert all(_data(result)[0].b64_json for result in (first, second, third))


def test_the_openai_client_lists_and_retrieves_models(served: Served) -> None:
    """Tools built on the openai client list `/v1/models` first (the model picker): a client
    with `models:read` beside its jobs scopes, as the demo's are."""
    registered = asyncio.run(create_client(served.settings, tenant=STUDIO, scopes="models:read jobs:write"))
    assert registered.client_secret is not None
    token = _token_class_of_the_docs()(served.base_url, registered.client_id, registered.client_secret)
    client = openai.OpenAI(api_key=token, base_url=f"{served.base_url}/v1", max_retries=0)
    listed = {model.id: model for model in client.models.list()}
    assert {TINY_FLUX2, TINY_SD} <= set(listed)
    assert listed[TINY_FLUX2].object == "model"
    assert listed[TINY_FLUX2].owned_by == "Black Forest Labs Inc."  # the FLUX [dev] license's licensor
    one = client.models.retrieve(TINY_FLUX2)
    assert (one.id, one.owned_by) == (TINY_FLUX2, listed[TINY_FLUX2].owned_by)
    assert "commercial_product" in (one.model_extra or {})["usable_for"]  # Clearance's own fields ride along
