"""Sync and async submission, results with provenance, defaults from recommended settings."""

from __future__ import annotations

import io

from PIL import Image

from gateway.jobs.tiny_catalog import TINY_FLUX2, TINY_FLUX2_TURBO, TURBO_SIGMAS
from gateway.storage import read_provenance
from tests.gateway.jobs.conftest import LOCAL_FLUX2, LOCAL_SD, STUDIO_AGREEMENT, Gateway, flux2_job, sd_job


async def test_prefer_wait_answers_200_with_the_finished_job_and_its_png(gateway: Gateway) -> None:
    response = await gateway.submit(flux2_job(num_images=2), Prefer="wait=60")
    assert response.status_code == 200, response.text
    assert response.headers["preference-applied"] == "wait=60"
    job = response.json()
    assert job["status"] == "succeeded"
    assert job["runner"] == LOCAL_FLUX2
    assert job["decision"]["agreements"] == ["operator-bfl-hosting", STUDIO_AGREEMENT]
    assert job["cost_usd"] == 0.002
    assert len(job["images"]) == 2
    png = await gateway.get(job["images"][1])
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.size == (32, 32)
    provenance = read_provenance(png.content)
    assert provenance.decision_id == job["decision"]["id"]
    assert provenance.model.artifact == TINY_FLUX2
    assert provenance.model.license == "flux-dev-ncl@2.0"
    assert provenance.seed == 8  # image i uses seed + i
    assert provenance.ai_generated


async def test_without_prefer_the_job_is_accepted_with_its_urls(gateway: Gateway) -> None:
    response = await gateway.submit(sd_job())
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert response.headers["location"] == f"/v1/jobs/{job['id']}"
    assert job["links"]["events"] == f"/v1/jobs/{job['id']}/events"
    assert job["links"]["cancel"] == f"/v1/jobs/{job['id']}/cancel"
    done = await gateway.wait_for(job["id"])
    assert done["status"] == "succeeded"
    assert done["runner"] == LOCAL_SD
    assert done["parameters"]["steps"] == 2  # the model's recommended settings
    assert done["cost_usd"] == 0.5 * 32 * 32 / 1_000_000


async def test_a_turbo_adapter_brings_its_steps_sigmas_and_guidance(gateway: Gateway) -> None:
    body = flux2_job(adapters=[{"id": TINY_FLUX2_TURBO, "scale": 0.8}])
    del body["steps"]
    job = (await gateway.submit(body, Prefer="wait=60")).json()
    assert job["status"] == "succeeded", job
    assert job["parameters"]["steps"] == 8
    assert job["parameters"]["sigmas"] == list(TURBO_SIGMAS)
    assert job["parameters"]["guidance"] == 2.5
    assert job["adapters"][0]["scale"] == 0.8
    overridden = (
        await gateway.submit(flux2_job(adapters=[{"id": TINY_FLUX2_TURBO}], steps=3), Prefer="wait=60")
    ).json()
    assert overridden["parameters"]["steps"] == 3
    assert overridden["parameters"]["sigmas"] is None
