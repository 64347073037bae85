"""A small Hub-compatible API on loopback: the routes `HfApi.model_info` and `hf_hub_download` use.

`GET /api/models/{repo}[/revision/{rev}]` answers model info with card data, gated status, tags
and siblings (git blob id, LFS size and sha256); `HEAD|GET /{repo}/resolve/{rev}/{file}` serves
files with the headers huggingface_hub checks (X-Repo-Commit, ETag, X-Linked-Etag/Size for LFS).
Every request path is logged so tests can assert what was (not) downloaded.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote, urlsplit


@dataclass
class HubFile:
    data: bytes
    lfs: bool = False
    blob_id: str | None = None
    """Overrides the git blob id announced in model info (to simulate a corrupted file)."""

    @property
    def git_blob_id(self) -> str:
        if self.blob_id is not None:
            return self.blob_id
        return hashlib.sha1(f"blob {len(self.data)}\0".encode() + self.data).hexdigest()

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class HubRepo:
    sha: str
    files: dict[str, HubFile]
    card_data: dict[str, Any] | None = None
    tags: list[str] = field(default_factory=list)
    gated: str | bool = False

    def info(self, repo_id: str) -> dict[str, Any]:
        return {
            "id": repo_id,
            "modelId": repo_id,
            "sha": self.sha,
            "private": False,
            "gated": self.gated,
            "disabled": False,
            "tags": self.tags,
            "cardData": self.card_data,
            "siblings": [
                {
                    "rfilename": name,
                    "size": len(f.data),
                    "blobId": f.git_blob_id,
                    **(
                        {"lfs": {"size": len(f.data), "sha256": f.sha256, "pointerSize": 134}}
                        if f.lfs
                        else {}
                    ),
                }
                for name, f in self.files.items()
            ],
        }


class _Handler(BaseHTTPRequestHandler):
    server: HubServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str], *, head: bool = False) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _not_found(self, code: str, head: bool = False) -> None:
        self._send(
            404,
            json.dumps({"error": code}).encode(),
            {"X-Error-Code": code, "Content-Type": "application/json"},
            head=head,
        )

    def _route(self, head: bool) -> None:
        path = unquote(urlsplit(self.path).path)
        self.server.requests.append(f"{self.command} {path}")
        if path.startswith("/api/models/"):
            parts = path.removeprefix("/api/models/").split("/")
            repo_id = "/".join(parts[:2])
            revision = parts[3] if len(parts) >= 4 and parts[2] == "revision" else "main"
            repo = self.server.repos.get(repo_id)
            if repo is None:
                return self._not_found("RepoNotFound", head)
            if revision not in {"main", repo.sha}:
                return self._not_found("RevisionNotFound", head)
            return self._send(
                200, json.dumps(repo.info(repo_id)).encode(), {"Content-Type": "application/json"}, head=head
            )
        parts = path.lstrip("/").split("/")
        if len(parts) >= 5 and parts[2] == "resolve":
            repo_id, revision, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
            repo = self.server.repos.get(repo_id)
            if repo is None:
                return self._not_found("RepoNotFound", head)
            if revision not in {"main", repo.sha}:
                return self._not_found("RevisionNotFound", head)
            file = repo.files.get(name)
            if file is None:
                return self._not_found("EntryNotFound", head)
            headers = {
                "X-Repo-Commit": repo.sha,
                "ETag": f'"{file.git_blob_id}"',
                "Content-Type": "application/octet-stream",
            }
            if file.lfs:
                headers |= {"X-Linked-Etag": f'"{file.sha256}"', "X-Linked-Size": str(len(file.data))}
            return self._send(200, file.data, headers, head=head)
        return self._not_found("NotFound", head)

    def do_GET(self) -> None:
        self._route(head=False)

    def do_HEAD(self) -> None:
        self._route(head=True)


class HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, repos: dict[str, HubRepo]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.repos = repos
        self.requests: list[str] = []

    @property
    def endpoint(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"


@contextmanager
def serve_hub(repos: dict[str, HubRepo]) -> Iterator[HubServer]:
    server = HubServer(repos)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
