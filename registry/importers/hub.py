"""Reading a repository from the Hub (or any Hub-compatible endpoint) with `huggingface_hub`.

One `model_info(files_metadata=True)` call gives the commit sha to pin, card data, gated status,
tags and the file list with each LFS file's sha256, so multi-gigabyte weights are pinned without
being downloaded. Only small files are fetched, at the pinned commit, into a temporary cache that
is removed afterwards: README.md (the card text), model_index.json, and any safetensors file
stored outside LFS (hashed here, checked against its git blob id).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import httpx2
from huggingface_hub import HfApi
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    OfflineModeIsEnabled,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from registry.importers.errors import NOT_JSON, FetchError, HashMismatchError, RevisionError
from registry.importers.snapshot import (
    COMMIT_SHA,
    RepoFile,
    RepoSnapshot,
    check_safetensors_header,
    git_blob_sha1,
    read_card_text,
    sha256_of,
)

_HUB_ERRORS = (HfHubHTTPError, OfflineModeIsEnabled, httpx2.HTTPError, OSError)


def read_hub_repo(
    repo_id: str,
    revision: str | None,
    *,
    endpoint: str | None = None,
    token: str | bool | None = None,
    timeout: float = 30.0,
) -> RepoSnapshot:
    """The repository at `revision` (default branch when None), pinned to its commit sha."""
    api = HfApi(endpoint=endpoint, token=token)
    where = f"{endpoint or 'https://huggingface.co'}: {repo_id}@{revision or 'main'}"
    try:
        info = api.model_info(repo_id, revision=revision, files_metadata=True, timeout=timeout)
    except RepositoryNotFoundError as exc:
        raise FetchError(f"{where}: repository not found (or private)") from exc
    except RevisionNotFoundError as exc:
        raise FetchError(f"{where}: revision not found") from exc
    except GatedRepoError as exc:
        raise FetchError(f"{where}: gated repository, accept its terms and pass a token") from exc
    except _HUB_ERRORS as exc:
        raise FetchError(f"{where}: cannot read model info: {exc}") from exc
    sha = info.sha
    if not isinstance(sha, str) or not COMMIT_SHA.match(sha):
        raise RevisionError(f"{where}: the Hub answered without a commit sha to pin (sha={sha!r})")
    if revision is not None and COMMIT_SHA.match(revision) and revision != sha:
        raise RevisionError(f"{where}: asked for commit {revision}, the Hub answered {sha}")
    siblings = info.siblings or []
    gated = info.gated if isinstance(info.gated, str) else None
    with tempfile.TemporaryDirectory(prefix="clearance-hf-") as cache:

        def fetch(name: str) -> Path:
            try:
                local = api.hf_hub_download(
                    repo_id, name, revision=sha, cache_dir=cache, etag_timeout=timeout
                )
            except _HUB_ERRORS as exc:
                raise FetchError(f"{where}: cannot download {name}: {exc}") from exc
            return Path(str(local))

        files: list[RepoFile] = []
        card_text: str | None = None
        model_index: dict[str, Any] | None = None
        for sibling in siblings:
            name = sibling.rfilename
            if name == "README.md":
                card_text = read_card_text(fetch(name), f"{where}: README.md")
            elif name == "model_index.json":
                try:
                    loaded = json.loads(fetch(name).read_text(encoding="utf-8"))
                except NOT_JSON as exc:
                    raise FetchError(f"{where}: model_index.json is not JSON: {exc}") from exc
                model_index = loaded if isinstance(loaded, dict) else None
            if not name.endswith(".safetensors"):
                files.append(RepoFile(name=name, size=sibling.size))
            elif sibling.lfs is not None:
                files.append(RepoFile(name=name, sha256=sibling.lfs.sha256.lower(), size=sibling.lfs.size))
            else:
                path = fetch(name)
                check_safetensors_header(path, f"{where}: {name}")
                if sibling.blob_id and git_blob_sha1(path) != sibling.blob_id:
                    raise HashMismatchError(
                        f"{where}: {name}: downloaded bytes do not match git blob {sibling.blob_id}"
                    )
                files.append(RepoFile(name=name, sha256=sha256_of(path), size=path.stat().st_size))
    card_metadata: dict[str, Any] | None = (
        info.card_data.to_dict() if info.card_data is not None else None  # type: ignore[no-untyped-call]
    )
    return RepoSnapshot(
        repo_id=repo_id,
        revision=sha,
        files=tuple(files),
        card_text=card_text,
        card_metadata=card_metadata,
        tags=tuple(info.tags or ()),
        gated=gated,
        model_index=model_index,
        origin=f"hub {endpoint or 'https://huggingface.co'}",
    )
