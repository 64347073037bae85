"""Images in an object store (S3 API, a real server on loopback): what is uploaded, read back,
refused, purged, and what an unreachable store answers."""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from pathlib import Path

import pytest

from gateway.delivery.config import image_store
from gateway.settings import Settings, SettingsError
from gateway.storage import ImageNotFoundError, ImageStoreError, ImageToSave, UnsafePathError, read_provenance
from gateway.storage.objects import ObjectImageStore
from tests.gateway.storage.test_image_store import PROVENANCE, png
from tests.support_s3 import Bucket
from tests.support_served import free_port


def to_save(
    tenant: str = "acme", job: str = "job_01", index: int = 0, data: bytes | None = None
) -> ImageToSave:
    return ImageToSave(tenant, job, index, png() if data is None else data, PROVENANCE)


async def test_images_are_uploaded_under_the_prefix_with_their_provenance(s3_bucket: Bucket) -> None:
    store = ObjectImageStore(f"s3://{s3_bucket.name}/clearance/prod")
    stored = await store.save_batch([to_save(index=0), to_save(index=1), to_save("globex", "job_02")])

    assert s3_bucket.keys() == [
        "clearance/prod/acme/job_01.0.png",
        "clearance/prod/acme/job_01.1.png",
        "clearance/prod/globex/job_02.0.png",
    ]
    assert [s.location for s in stored] == [
        f"s3://{s3_bucket.name}/clearance/prod/{k}"
        for k in ("acme/job_01.0.png", "acme/job_01.1.png", "globex/job_02.0.png")
    ]
    head = s3_bucket.client.head_object(Bucket=s3_bucket.name, Key="clearance/prod/acme/job_01.1.png")
    assert head["ContentType"] == "image/png"
    data = await store.fetch("acme", "job_01", 1)
    assert data == stored[1].data
    assert hashlib.sha256(data).hexdigest() == stored[1].sha256
    assert stored[1].size_bytes == len(data)
    assert read_provenance(data) == PROVENANCE


async def test_a_missing_image_is_not_found_and_tenants_do_not_share_names(s3_bucket: Bucket) -> None:
    store = ObjectImageStore(f"s3://{s3_bucket.name}")
    await store.save_batch([to_save("acme", "job_01")])
    with pytest.raises(ImageNotFoundError):
        await store.fetch("acme", "job_01", 1)
    with pytest.raises(ImageNotFoundError):
        await store.fetch("globex", "job_01", 0)


@pytest.mark.parametrize(
    ("tenant", "job", "index"),
    [("../acme", "job_01", 0), ("acme", "a/b", 0), (".hidden", "job_01", 0), ("acme", "job_01", 1000)],
)
async def test_unsafe_names_upload_nothing(s3_bucket: Bucket, tenant: str, job: str, index: int) -> None:
    store = ObjectImageStore(f"s3://{s3_bucket.name}")
    with pytest.raises(UnsafePathError):
        await store.save_batch([to_save(), to_save(tenant, job, index)])
    assert s3_bucket.keys() == []


async def test_a_batch_with_an_image_that_is_not_a_png_uploads_nothing(s3_bucket: Bucket) -> None:
    store = ObjectImageStore(f"s3://{s3_bucket.name}")
    with pytest.raises(ValueError, match="PNG"):
        await store.save_batch([to_save(), to_save(index=1, data=b"GIF89a not a png")])
    assert s3_bucket.keys() == []


async def test_purge_deletes_what_is_past_the_retention(s3_bucket: Bucket) -> None:
    store = ObjectImageStore(f"s3://{s3_bucket.name}/p", retention_days=1)
    keeper = ObjectImageStore(f"s3://{s3_bucket.name}/p")
    await store.save_batch([to_save(index=0), to_save("globex", "job_02")])
    now = dt.datetime.now(dt.UTC)
    assert await keeper.purge(now=now + dt.timedelta(days=30)) == 0  # no retention: kept
    assert await store.purge(now=now) == 0  # a day has not passed
    assert len(s3_bucket.keys()) == 2
    assert await store.purge(now=now + dt.timedelta(days=1, minutes=1)) == 2
    assert s3_bucket.keys() == []


async def test_an_unreachable_store_fails_fast_with_a_clear_error(s3_bucket: Bucket) -> None:
    store = ObjectImageStore(
        f"s3://{s3_bucket.name}",
        endpoint=f"http://127.0.0.1:{free_port()}",  # nobody listens
        retry_config={"max_retries": 1, "retry_timeout": dt.timedelta(seconds=2)},
    )
    started = time.monotonic()
    with pytest.raises(ImageStoreError, match="could not be stored"):
        await store.save_batch([to_save()])
    with pytest.raises(ImageStoreError, match="did not answer"):
        await store.fetch("acme", "job_01", 0)
    assert time.monotonic() - started < 30


def test_the_setting_selects_the_store_and_refuses_other_schemes(tmp_path: Path, s3_bucket: Bucket) -> None:
    settings = Settings(data_dir=tmp_path, image_store_url=f"s3://{s3_bucket.name}/x", image_retention_days=7)
    chosen = image_store(settings)
    assert isinstance(chosen, ObjectImageStore)
    assert (chosen.url, chosen.retention_days) == (f"s3://{s3_bucket.name}/x", 7)
    for url in ("http://bucket/images", "/var/images", "file:///var/images"):
        with pytest.raises(
            SettingsError, match=r"CLEARANCE_IMAGE_STORE_URL: .* must start with one of s3://"
        ):
            image_store(Settings(data_dir=tmp_path, image_store_url=url))


def test_retention_below_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 day"):
        ObjectImageStore("s3://bucket", retention_days=0)


async def test_a_jobs_images_are_deleted_and_deleting_again_is_no_error(s3_bucket: Bucket) -> None:
    store = ObjectImageStore(f"s3://{s3_bucket.name}/p")
    await store.save_batch([to_save(index=0), to_save(index=1), to_save("acme", "job_02")])
    assert await store.delete("acme", "job_01", 2) == 2
    assert s3_bucket.keys() == ["p/acme/job_02.0.png"]
    assert await store.delete("acme", "job_01", 2) == 2  # asked for; nothing left to delete
    with pytest.raises(ImageNotFoundError):
        await store.fetch("acme", "job_01", 0)
