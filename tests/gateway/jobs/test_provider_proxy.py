"""`CLEARANCE_PROVIDER_PROXY`: a gateway in a network whose only way out is an HTTP proxy reaches
its providers through it (webhooks and licensor reports never do: see docs/configuration.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.settings import Settings, SettingsError
from tests.gateway.jobs.conftest import HOBBY, PROVIDER_FLUX2, JobsWorld, flux2_job, open_gateway
from tests.support_loopback import ThreadedServer, forward_proxy


async def test_provider_jobs_go_through_the_configured_proxy(jobs_world: JobsWorld, tmp_path: Path) -> None:
    with ThreadedServer(forward_proxy()) as proxy:
        async with open_gateway(jobs_world, tmp_path, provider_proxy=proxy.base) as gateway:
            job = (await gateway.submit(flux2_job(), tenant=HOBBY, Prefer="wait=60")).json()
            png = await gateway.get(job["images"][0], tenant=HOBBY)
    assert (job["runner"], job["status"]) == (PROVIDER_FLUX2, "succeeded"), job
    assert png.content.startswith(b"\x89PNG")
    provider_host = jobs_world.provider.base_url.split("//", 1)[1].split("/", 1)[0]
    assert [(r.headers["Host"], r.path) for r in proxy.received] == [
        (provider_host, "/v1/images/generations")
    ]


def test_the_proxy_setting_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).provider_proxy == ""
    url = "http://egress:secret@proxy.internal:3128"
    assert Settings.from_env({"CLEARANCE_PROVIDER_PROXY": url}).provider_proxy == url


NOT_HTTP_PROXIES = ["proxy.internal:3128", "socks5://proxy:1080", "http://", "http://p/x", "http://a b"]


@pytest.mark.parametrize("value", NOT_HTTP_PROXIES)
def test_a_proxy_that_is_not_an_http_url_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="provider_proxy"):
        Settings.from_env({"CLEARANCE_PROVIDER_PROXY": value})
