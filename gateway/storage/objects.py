"""Images in an object store (S3 or S3-compatible, Google Cloud Storage, Azure Blob Storage), so
that every gateway process serves every job's images: with the local store, a replica answers
only for the jobs that ran on it unless all of them share one volume.

`CLEARANCE_IMAGE_STORE_URL=s3://bucket/prefix` (or `gs://`, `az://`) selects it. The client is
obstore (Rust's `object_store`): asynchronous, one dependency for the three clouds, credentials,
region and endpoint read from the environment as the clouds' own tools read them
(`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT`, `GOOGLE_SERVICE_ACCOUNT`, ...). Keys are
`<prefix>/<tenant>/<job>.<n>.png`, as the local store's paths. A PUT is atomic and durable once
it is acknowledged, which is what a job needs before it is recorded as succeeded.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

import obstore
from obstore.store import from_url

from gateway.storage.images import (
    ImageNotFoundError,
    ImageStoreError,
    ImageToSave,
    StoredImage,
    image_name,
)
from gateway.storage.provenance import with_provenance

SCHEMES = ("s3://", "s3a://", "gs://", "az://", "abfs://", "abfss://")
_DELETE_CHUNK = 1_000  # S3's DeleteObjects takes at most 1,000 keys
_RETRIES: Any = {"max_retries": 3, "retry_timeout": dt.timedelta(seconds=20)}
"""A few quick retries: a job's completion waits for the store (obstore's own default retries
for three minutes). Its client's timeouts stay as they are: 5 s to connect, 30 s a request."""


class ObjectImageStore:
    """The image store's interface (`save_batch`, `fetch`, `purge`) on an object store."""

    def __init__(self, url: str, *, retention_days: int | None = None, **config: Any) -> None:
        if not url.startswith(SCHEMES):
            raise ValueError(f"image store URL {url!r} must start with one of {', '.join(SCHEMES)}")
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"image retention must be at least 1 day, got {retention_days}")
        self.url = url.rstrip("/")
        self.retention_days = retention_days
        config.setdefault("retry_config", _RETRIES)
        self._store = from_url(self.url, **config)

    async def save_batch(self, images: Sequence[ImageToSave]) -> list[StoredImage]:
        """Upload the PNGs with their provenance, concurrently; stored once it returns. Nothing
        is uploaded unless every image is valid; should an upload fail, the others of the batch
        are deleted again (best effort) and `ImageStoreError` says why."""
        planned = [
            (image_name(i.tenant_id, i.job_id, i.index), with_provenance(i.png, i.provenance)) for i in images
        ]
        results = await asyncio.gather(
            *(self._put(key, data) for key, data in planned), return_exceptions=True
        )
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            written = [key for (key, _), r in zip(planned, results, strict=True) if r is None]
            if written:
                await asyncio.gather(obstore.delete_async(self._store, written), return_exceptions=True)
            said = _said(failed[0])
            raise ImageStoreError(
                f"{len(failed)} of {len(planned)} images could not be stored at {self.url}: {said}"
            ) from failed[0]
        return [
            StoredImage(
                tenant_id=i.tenant_id,
                job_id=i.job_id,
                index=i.index,
                location=f"{self.url}/{key}",
                sha256=hashlib.sha256(data).hexdigest(),
                size_bytes=len(data),
                data=data,
            )
            for i, (key, data) in zip(images, planned, strict=True)
        ]

    async def _put(self, key: str, data: bytes) -> None:
        await obstore.put_async(self._store, key, data, attributes={"Content-Type": "image/png"})

    async def fetch(self, tenant_id: str, job_id: str, index: int) -> bytes:
        key = image_name(tenant_id, job_id, index)
        try:
            result = await obstore.get_async(self._store, key)
            return bytes(await result.bytes_async())
        except FileNotFoundError as exc:
            raise ImageNotFoundError(f"no image {index} for job {job_id}") from exc
        except Exception as exc:  # obstore's errors: unreachable, refused, timed out
            raise ImageStoreError(f"image store {self.url} did not answer: {_said(exc)}") from exc

    async def delete(self, tenant_id: str, job_id: str, count: int) -> int:
        """Delete the job's images 0..count-1 (missing ones are no error); how many were asked."""
        keys = [image_name(tenant_id, job_id, index) for index in range(count)]
        if keys:
            try:
                await obstore.delete_async(self._store, keys)
            except Exception as exc:  # obstore's errors: unreachable, refused, timed out
                raise ImageStoreError(f"image store {self.url} did not answer: {_said(exc)}") from exc
        return len(keys)

    async def purge(self, *, now: dt.datetime) -> int:
        """Delete images older than the retention (by last modification); returns how many. A
        bucket lifecycle rule does the same without listing the bucket every hour."""
        if self.retention_days is None:
            return 0
        cutoff = now - dt.timedelta(days=self.retention_days)
        expired: list[str] = []
        async for chunk in obstore.list(self._store, chunk_size=_DELETE_CHUNK):
            expired.extend(m["path"] for m in chunk if m["last_modified"] < cutoff)
        for start in range(0, len(expired), _DELETE_CHUNK):
            await obstore.delete_async(self._store, expired[start : start + _DELETE_CHUNK])
        return len(expired)


def _said(exc: BaseException) -> str:
    """obstore's message without the Rust debug dump it appends (a screenful per error)."""
    return str(exc).split("\n\nDebug source:", 1)[0].strip()
