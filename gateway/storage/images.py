"""The local image store: `<root>/<tenant>/<job>/<n>.png`, written atomically, purged by age.

Tenant and job ids become directory names, so they are checked against a strict pattern and
the final path must stay under the root: no traversal, no absolute paths, no odd names.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gateway.storage.provenance import Provenance, with_provenance

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
MAX_IMAGES_PER_JOB = 1000


class UnsafePathError(ValueError):
    """A tenant id, job id or index that cannot safely become part of a path."""


class ImageNotFoundError(LookupError):
    """No stored image for that tenant, job and index (never stored, or purged)."""


@dataclass(frozen=True)
class StoredImage:
    tenant_id: str
    job_id: str
    index: int
    path: Path
    sha256: str
    size_bytes: int


def _component(kind: str, value: str) -> str:
    if not _NAME.match(value) or ".." in value:
        raise UnsafePathError(f"{kind} {value!r} cannot be stored: use letters, digits, '_', '-', '.'")
    return value


def _fsync_directory(directory: Path) -> None:
    handle = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)


class ImageStore:
    def __init__(self, root: Path, *, retention_days: int | None = None) -> None:
        if retention_days is not None and retention_days < 1:
            raise ValueError(f"image retention must be at least 1 day, got {retention_days}")
        self.root = root.resolve()
        self.retention_days = retention_days

    def path_for(self, tenant_id: str, job_id: str, index: int) -> Path:
        if not 0 <= index < MAX_IMAGES_PER_JOB:
            raise UnsafePathError(f"image index {index} out of range 0..{MAX_IMAGES_PER_JOB - 1}")
        path = (
            self.root / _component("tenant id", tenant_id) / _component("job id", job_id) / f"{index}.png"
        ).resolve()
        if not path.is_relative_to(self.root):
            raise UnsafePathError(f"image path escapes the store: {path}")
        return path

    def save(
        self, tenant_id: str, job_id: str, index: int, png: bytes, provenance: Provenance
    ) -> StoredImage:
        """Write the PNG with its provenance chunks; atomic (temp file, fsync, rename) and
        durable once it returns: the directories whose entries changed are fsynced too, since
        the job is recorded as succeeded right after and a power loss must not lose its image."""
        path = self.path_for(tenant_id, job_id, index)
        data = with_provenance(png, provenance)
        created = [d for d in (path.parent.parent, path.parent) if not d.is_dir()]
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".png")
        try:
            with os.fdopen(handle, "wb") as temp:
                temp.write(data)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, path)
        except BaseException:
            Path(temp_name).unlink(missing_ok=True)
            raise
        for directory in (path.parent, *(d.parent for d in reversed(created))):
            _fsync_directory(directory)
        return StoredImage(
            tenant_id=tenant_id,
            job_id=job_id,
            index=index,
            path=path,
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
        )

    def read(self, tenant_id: str, job_id: str, index: int) -> bytes:
        path = self.path_for(tenant_id, job_id, index)
        try:
            return path.read_bytes()
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
            for job_dir in tenant_dir.iterdir():
                if not job_dir.is_dir() or job_dir.is_symlink():
                    continue
                for image in job_dir.glob("*.png"):
                    if image.is_file() and image.stat().st_mtime < cutoff:
                        image.unlink(missing_ok=True)
                        removed += 1
                _remove_if_empty(job_dir)
            _remove_if_empty(tenant_dir)
        return removed


def _remove_if_empty(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not empty, or already gone
        directory.rmdir()
