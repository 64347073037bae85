"""Gateway processes that share an object store for images serve every job's images, wherever
the job ran; with the local store (no shared volume) only the process that ran it can."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.storage import read_provenance
from tests.gateway.jobs.conftest import STUDIO, JobsWorld, open_gateway, sd_job
from tests.support_s3 import Bucket
from tests.support_served import free_port


async def test_an_image_made_in_one_gateway_is_served_by_another(
    jobs_world: JobsWorld, tmp_path: Path, jobs_database: str, s3_bucket: Bucket
) -> None:
    store_url = f"s3://{s3_bucket.name}/clearance"
    async with (
        open_gateway(jobs_world, tmp_path / "a", jobs_database, image_store_url=store_url) as first,
        open_gateway(jobs_world, tmp_path / "b", jobs_database, image_store_url=store_url) as second,
    ):
        job = (await first.submit(sd_job(steps=2, num_images=2), Prefer="wait=60")).json()
        assert job["status"] == "succeeded", job
        made = [(await first.get(path)).content for path in job["images"]]
        served = [await second.get(path) for path in job["images"]]

    assert [r.status_code for r in served] == [200, 200]
    assert [r.content for r in served] == made
    assert read_provenance(made[1]).job_id == job["id"]
    assert s3_bucket.keys() == [f"clearance/{STUDIO}/{job['id']}.{n}.png" for n in (0, 1)]
    assert not (tmp_path / "a" / "images").exists()  # nothing on the local disk


async def test_with_local_stores_another_gateway_cannot_serve_the_image(
    jobs_world: JobsWorld, tmp_path: Path, jobs_database: str
) -> None:
    """Why the object store exists: the local store is the process's own disk."""
    async with (
        open_gateway(jobs_world, tmp_path / "a", jobs_database) as first,
        open_gateway(jobs_world, tmp_path / "b", jobs_database) as second,
    ):
        job = (await first.submit(sd_job(steps=2), Prefer="wait=60")).json()
        assert job["status"] == "succeeded", job
        assert (await first.get(job["images"][0])).status_code == 200
        assert (await second.get(job["images"][0])).status_code == 404


async def test_a_store_that_does_not_answer_fails_the_job_and_reads_answer_503(
    jobs_world: JobsWorld,
    tmp_path: Path,
    jobs_database: str,
    s3_bucket: Bucket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store_url = f"s3://{s3_bucket.name}"
    async with open_gateway(jobs_world, tmp_path / "a", jobs_database, image_store_url=store_url) as working:
        kept = (await working.submit(sd_job(steps=2), Prefer="wait=60")).json()
        assert kept["status"] == "succeeded", kept
    monkeypatch.setenv("AWS_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nobody listens there
    async with open_gateway(jobs_world, tmp_path / "b", jobs_database, image_store_url=store_url) as cut_off:
        lost = (await cut_off.submit(sd_job(steps=2, seed=4), Prefer="wait=60")).json()
        unread = await cut_off.get(kept["images"][0])

    assert lost["status"] == "failed", lost
    assert lost["error"].startswith("images not stored: 1 of 1 images could not be stored"), lost["error"]
    assert unread.status_code == 503
    assert unread.headers["content-type"].startswith("application/problem+json")
    assert unread.headers["retry-after"] == "5"
    assert unread.json()["type"].endswith("image-store-unavailable")
