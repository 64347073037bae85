"""The local image store: `<root>/<tenant>/<job>.<n>.png`, written atomically, purged by age.

`ImageBackend` is what the jobs code uses of a store (`save_batch`, `fetch`, `purge`): this one, on
the local filesystem, or `objects.ObjectImageStore` in an object store shared by every gateway
process.

Tenant ids become directory names and job ids file names, so both are checked against a strict
pattern (no separator, no "..", no leading dot): no traversal, no absolute paths, no odd names.
One directory per tenant rather than per job: a save then changes one directory entry, and the
images saved together (`save_many`) share its fsync.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import itertools
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol

import anyio

from gateway.storage.provenance import Provenance, with_provenance
from registry.db.blocking import ShortBlocking

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MAX_IMAGES_PER_JOB = 1000


class UnsafePathError(ValueError):
    """A tenant id, job id or index that cannot safely become part of a path."""


class ImageNotFoundError(LookupError):
    """No stored image for that tenant, job and index (never stored, or purged)."""


class ImageStoreError(Exception):
    """The store could not be written or read (an object store that did not answer)."""


@dataclass(frozen=True)
class StoredImage:
    tenant_id: str
    job_id: str
    index: int
    location: str
    """The file's path (`path` as a `Path`)."""
    sha256: str
    size_bytes: int
    data: bytes = field(repr=False)
    """The stored file's bytes (the PNG with its provenance), for answering without a read."""

    @property
    def path(self) -> Path:
        return Path(self.location)


def _component(kind: str, value: str) -> str:
    if not _NAME.match(value) or ".." in value:
        raise UnsafePathError(f"{kind} {value!r} cannot be stored: use letters, digits, '_', '-', '.'")
    return value


def image_name(tenant_id: str, job_id: str, index: int) -> str:
    """`<tenant>/<job>.<n>.png`, the image's path under a store's root, its parts checked."""
    if not 0 <= index < MAX_IMAGES_PER_JOB:
        raise UnsafePathError(f"image index {index} out of range 0..{MAX_IMAGES_PER_JOB - 1}")
    return f"{_component('tenant id', tenant_id)}/{_component('job id', job_id)}.{index}.png"


def _create(temp_name: str) -> tuple[int, str]:
    """A new file only we can read, as `mkstemp` makes it; should the name exist, one of
    `mkstemp`'s instead."""
    try:
        return os.open(temp_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600), temp_name
    except FileExistsError:
        return tempfile.mkstemp(dir=os.path.dirname(temp_name), prefix=".tmp-", suffix=".png")


def _fsync_directory(directory: str | Path) -> None:
    handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


@dataclass(frozen=True)
class ImageToSave:
    tenant_id: str
    job_id: str
    index: int
    png: bytes
    provenance: Provenance


class ImageBackend(Protocol):
    """What the jobs code uses of an image store."""

    retention_days: int | None

    async def save_batch(self, images: Sequence[ImageToSave]) -> list[StoredImage]:
        """Store the PNGs with their provenance; durable once it returns."""
        ...

    async def fetch(self, tenant_id: str, job_id: str, index: int) -> bytes:
        """The stored PNG, or `ImageNotFoundError`."""
        ...

    async def purge(self, *, now: dt.datetime) -> int:
        """Delete the images older than the retention; how many."""
        ...

    async def delete(self, tenant_id: str, job_id: str, count: int) -> int:
        """Delete a job's images 0..count-1 (those still there); how many were there."""
        ...


class ImageStore:
    def __init__(self, root: Path, *, retention_days: int | None = None) -> None:
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"image retention must be at least 1 day, got {retention_days}")
        self.root = root.resolve()
        self.retention_days = retention_days
        self._root = str(self.root)
        # temp file names without `mkstemp` (its random name per file and argument checks: 49 ->
        # 21 us per temp file, syscalls included): random per store, then counted, since
        # containers reuse pids
        self._temp_prefix = f".tmp-{os.urandom(6).hex()}-"
        self._temp_names = itertools.count()
        self._blocking = ShortBlocking()  # inline while the disk answers within a millisecond

    async def save_batch(self, images: Sequence[ImageToSave]) -> list[StoredImage]:
        """`save_many`, inline or on a thread as the disk's recent answers allow."""
        return await self._blocking.run(self.save_many, images)

    async def fetch(self, tenant_id: str, job_id: str, index: int) -> bytes:
        """`read` (inline: one small file from the page cache, as a rule)."""
        return self.read(tenant_id, job_id, index)

    async def purge(self, *, now: dt.datetime) -> int:
        """`purge_expired` on a thread (it walks every tenant's directory)."""
        return await anyio.to_thread.run_sync(partial(self.purge_expired, now=now))

    async def delete(self, tenant_id: str, job_id: str, count: int) -> int:
        """`delete_images` on a thread (an unlink and a directory fsync)."""
        return await anyio.to_thread.run_sync(partial(self.delete_images, tenant_id, job_id, count))

    def delete_images(self, tenant_id: str, job_id: str, count: int) -> int:
        """Unlink the job's images 0..count-1 (both layouts), durably: the directory is fsynced."""
        removed = 0
        directories: set[str] = set()
        for index in range(count):
            for path in (
                self.path_for(tenant_id, job_id, index),
                self._legacy_path(tenant_id, job_id, index),
            ):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
                    removed += 1
                    directories.add(str(path.parent))
        for directory in directories:
            _fsync_directory(directory)
        return removed

    def path_for(self, tenant_id: str, job_id: str, index: int) -> Path:
        return Path(self._location(tenant_id, job_id, index)[1])

    def _location(self, tenant_id: str, job_id: str, index: int) -> tuple[str, str]:
        """The image's directory and file as strings (no `Path` objects on the save path)."""
        # Both components match `_NAME` (no separator, no "..", no leading dot) and the root is
        # resolved, so the path cannot leave the root: no `resolve()` (a realpath walk) per call.
        path = f"{self._root}/{image_name(tenant_id, job_id, index)}"
        return path[: path.rindex("/")], path

    def _legacy_path(self, tenant_id: str, job_id: str, index: int) -> Path:
        """Where images were stored before 2026-11-26: `<tenant>/<job>/<n>.png`."""
        return self.root / tenant_id / job_id / f"{index}.png"

    def save(
        self, tenant_id: str, job_id: str, index: int, png: bytes, provenance: Provenance
    ) -> StoredImage:
        """`save_many` of one image."""
        [stored] = self.save_many([ImageToSave(tenant_id, job_id, index, png, provenance)])
        return stored

    def save_many(self, images: Sequence[ImageToSave]) -> list[StoredImage]:
        """Write the PNGs with their provenance chunks, atomically (temp file, fsync, rename),
        and durably once it returns: every directory whose entries changed is fsynced too, once
        for all the images in it, since the jobs are recorded as succeeded right after and a power
        loss must not lose their images. Nothing is written unless every image is valid."""
        planned = [
            (self._location(i.tenant_id, i.job_id, i.index), with_provenance(i.png, i.provenance))
            for i in images
        ]
        directories = dict.fromkeys(directory for (directory, _), _ in planned)
        changed = dict(directories)
        for directory in directories:
            if not os.path.isdir(directory):
                os.makedirs(directory, exist_ok=True)
                changed[self._root] = None  # the tenant's directory entry is new
        written: list[str] = []
        try:
            for (directory, _), data in planned:
                handle, temp_name = _create(f"{directory}/{self._temp_prefix}{next(self._temp_names)}.png")
                written.append(temp_name)
                try:  # on the descriptor: no file object (its isatty and seek syscalls) per image
                    view = memoryview(data)
                    while view:
                        view = view[os.write(handle, view) :]
                    os.fsync(handle)
                finally:
                    os.close(handle)
            for temp_name, ((_, path), _) in zip(written, planned, strict=True):
                os.replace(temp_name, path)
        except BaseException:
            for temp_name in written:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temp_name)
            raise
        for directory in changed:
            _fsync_directory(directory)
        return [
            StoredImage(
                tenant_id=i.tenant_id,
                job_id=i.job_id,
                index=i.index,
                location=path,
                sha256=hashlib.sha256(data).hexdigest(),
                size_bytes=len(data),
                data=data,
            )
            for i, ((_, path), data) in zip(images, planned, strict=True)
        ]

    def read(self, tenant_id: str, job_id: str, index: int) -> bytes:
        path = self.path_for(tenant_id, job_id, index)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        try:
            return self._legacy_path(tenant_id, job_id, index).read_bytes()
        except FileNotFoundError as exc:
            raise ImageNotFoundError(f"no image {index} for job {job_id}") from exc

    def purge_expired(self, *, now: dt.datetime) -> int:
        """Delete images older than the retention (by modification time); returns how many."""
        if self.retention_days is None or not self.root.is_dir():
            return 0
        cutoff = (now - dt.timedelta(days=self.retention_days)).timestamp()
        removed = 0
        for tenant_dir in self.root.iterdir():
            if not tenant_dir.is_dir() or tenant_dir.is_symlink():
                continue
            removed += _purge_images(tenant_dir, cutoff)
            for job_dir in tenant_dir.iterdir():  # the layout before 2026-11-26
                if job_dir.is_dir() and not job_dir.is_symlink():
                    removed += _purge_images(job_dir, cutoff)
                    _remove_if_empty(job_dir)
            _remove_if_empty(tenant_dir)
        return removed


def _purge_images(directory: Path, cutoff: float) -> int:
    removed = 0
    for image in directory.glob("*.png"):
        if image.is_file() and image.stat().st_mtime < cutoff:
            image.unlink(missing_ok=True)
            removed += 1
    return removed


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or already gone
        directory.rmdir()
