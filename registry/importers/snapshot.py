"""A repository at one revision, as the importer sees it, read from a local snapshot directory.

Two real layouts pin what they hold: a `huggingface_hub` cache snapshot
(`.../snapshots/<commit>/`, files linked to `blobs/<sha256>` for LFS files) and a `local_dir`
download (`.cache/huggingface/download/<file>.metadata`: commit, etag, timestamp). Every
safetensors file is hashed; where the layout recorded a sha256, the bytes must match it. A plain
directory carries no revision, so the caller must give one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
from pathlib import Path
from typing import Any

import msgspec

from registry.importers.errors import (
    NOT_JSON,
    HashMismatchError,
    MissingFileError,
    ModelCardError,
    RevisionError,
    WeightsFormatError,
)

COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
_HEADER_LIMIT = 100 * 1024 * 1024
_SKIPPED_DIRS = {".cache", ".git", ".no_exist"}


class RepoFile(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """Path inside the repository, `/`-separated."""
    sha256: str | None = None
    size: int | None = None


class RepoSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    repo_id: str
    revision: str
    """A 40-hex commit sha: what the importer pins."""
    files: tuple[RepoFile, ...]
    card_text: str | None
    card_metadata: dict[str, Any] | None = None
    """Card data the Hub returned, used only when there is no README.md to parse."""
    tags: tuple[str, ...] = ()
    gated: str | None = None
    model_index: dict[str, Any] | None = None
    origin: str = ""
    """Where it was read from, for messages (`local /path`, `hub http://...`)."""

    def file_names(self) -> list[str]:
        return [f.name for f in self.files]


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def git_blob_sha1(path: Path) -> str:
    """The git object id of a file stored outside LFS (what the Hub reports as its etag)."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_card_text(path: Path, name: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ModelCardError(f"{name}: not UTF-8 text: {exc}") from exc


def check_safetensors_header(path: Path, name: str) -> None:
    """A safetensors file starts with a little-endian u64 length and a JSON object of that length."""
    with path.open("rb") as stream:
        head = stream.read(8)
        if len(head) != 8:
            raise WeightsFormatError(f"{name}: too short to be a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length == 0 or length > _HEADER_LIMIT or length > path.stat().st_size - 8:
            raise WeightsFormatError(f"{name}: not a safetensors file (header length {length})")
        try:
            header = json.loads(stream.read(length))
        except NOT_JSON as exc:
            raise WeightsFormatError(f"{name}: safetensors header is not JSON: {exc}") from exc
    if not isinstance(header, dict):
        raise WeightsFormatError(f"{name}: safetensors header is not a JSON object")


def _download_metadata(directory: Path, name: str) -> tuple[str, str] | None:
    """(commit, etag) recorded by `hf_hub_download(local_dir=...)`, if any."""
    path = directory / ".cache" / "huggingface" / "download" / f"{name}.metadata"
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    if len(lines) < 2:
        return None
    return lines[0].strip(), lines[1].strip().strip('"')


def _cache_blob_name(path: Path) -> str | None:
    """In the hub cache, a file links to `blobs/<etag>`: the sha256 (LFS) or git blob id."""
    if not path.is_symlink():
        return None
    return Path(os.readlink(path)).name


def _verify_recorded_hash(path: Path, actual_sha256: str, recorded: str | None) -> None:
    """`recorded` is what the layout says the file is: a sha256 (LFS) or a git blob id."""
    if recorded is None:
        return
    if SHA256.match(recorded):
        if recorded != actual_sha256:
            raise HashMismatchError(
                f"{path}: sha256 is {actual_sha256}, but the snapshot recorded {recorded}"
            )
    elif COMMIT_SHA.match(recorded):
        actual_blob = git_blob_sha1(path)
        if recorded != actual_blob:
            raise HashMismatchError(
                f"{path}: git blob id is {actual_blob}, but the snapshot recorded {recorded}"
            )


def _list_files(directory: Path) -> list[str]:
    names: list[str] = []
    for root, dirs, files in os.walk(directory, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
        for file in sorted(files):
            names.append((Path(root) / file).relative_to(directory).as_posix())
    return names


def _pinned_revision(directory: Path, names: list[str], requested: str | None) -> str:
    found: dict[str, str] = {}
    if directory.parent.name == "snapshots" and COMMIT_SHA.match(directory.name):
        found[directory.name] = f"hub cache snapshot folder {directory.name}"
    for name in names:
        recorded = _download_metadata(directory, name)
        if recorded is not None and COMMIT_SHA.match(recorded[0]):
            found.setdefault(recorded[0], f".cache/huggingface/download/{name}.metadata")
    if len(found) > 1:
        listed = "; ".join(f"{sha} ({where})" for sha, where in found.items())
        raise RevisionError(f"{directory}: files come from different revisions: {listed}")
    if requested is not None:
        if not COMMIT_SHA.match(requested):
            raise RevisionError(
                f"revision {requested!r}: offline, only a 40-hex commit sha can be pinned "
                "(a branch or tag name cannot be resolved without the Hub)"
            )
        if found and requested not in found:
            sha, where = next(iter(found.items()))
            raise RevisionError(f"{directory}: requested revision {requested} but {where} says {sha}")
        return requested
    if not found:
        raise RevisionError(
            f"{directory}: no revision recorded in this directory; pass REPO_ID@<40-hex commit sha>"
        )
    return next(iter(found))


def read_local_snapshot(directory: Path, repo_id: str, revision: str | None) -> RepoSnapshot:
    """Everything the importer needs from a snapshot directory, with safetensors hashes verified."""
    if not directory.is_dir():
        raise MissingFileError(f"{directory}: snapshot directory does not exist")
    names = _list_files(directory)
    if "README.md" not in names:
        raise MissingFileError(f"{directory / 'README.md'}: missing; the model card is required")
    pinned = _pinned_revision(directory, names, revision)
    files: list[RepoFile] = []
    for name in names:
        path = directory / name
        if not path.exists():
            raise MissingFileError(f"{path}: broken link, the file it points to is missing")
        if not name.endswith(".safetensors"):
            files.append(RepoFile(name=name, size=path.stat().st_size))
            continue
        check_safetensors_header(path, str(path))
        actual = sha256_of(path)
        recorded = _download_metadata(directory, name)
        _verify_recorded_hash(path, actual, recorded[1] if recorded else _cache_blob_name(path))
        files.append(RepoFile(name=name, sha256=actual, size=path.stat().st_size))
    model_index: dict[str, Any] | None = None
    if "model_index.json" in names:
        try:
            loaded = json.loads((directory / "model_index.json").read_text(encoding="utf-8"))
        except NOT_JSON as exc:
            raise WeightsFormatError(f"{directory / 'model_index.json'}: not JSON: {exc}") from exc
        model_index = loaded if isinstance(loaded, dict) else None
    return RepoSnapshot(
        repo_id=repo_id,
        revision=pinned,
        files=tuple(files),
        card_text=read_card_text(directory / "README.md", str(directory / "README.md")),
        model_index=model_index,
        origin=f"local {directory}",
    )
