"""Fetching a JSON document from a URL someone typed, without becoming an SSRF proxy.

The shared outbound guard (`registry.netguard`) vets every URL and pins each connection to the
addresses it admitted (no DNS-rebinding window): private, loopback, link-local and metadata
addresses are refused unless the operator's policy allowlists them (tests allowlist their
loopback server). Redirects are followed by hand, each hop vetted again; bodies are read as a
stream and cut at a size cap; every phase has a timeout.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urljoin

import aiohttp

from registry.importers.errors import NOT_JSON, FetchError
from registry.netguard import GuardedSession, OutboundPolicy, UnsafeUrlError

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=5, sock_read=15)
MAX_REDIRECTS = 3


async def fetch_json(
    url: str,
    *,
    policy: OutboundPolicy | None = None,
    max_bytes: int = DEFAULT_MAX_BYTES,
    client_timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
) -> Any:
    """GET `url` (https only unless `policy` allows http) and decode its JSON body."""
    current = url
    async with GuardedSession(policy or OutboundPolicy(), timeout=client_timeout) as http:
        for _ in range(MAX_REDIRECTS + 1):
            try:
                async with http.request("GET", current, headers={"Accept": "application/json"}) as response:
                    if response.status in {301, 302, 303, 307, 308}:
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(f"{current}: redirect without a Location header")
                        current = urljoin(current, location)
                        continue
                    if response.status != 200:
                        raise FetchError(f"{current}: HTTP {response.status}")
                    if response.content_length is not None and response.content_length > max_bytes:
                        raise FetchError(
                            f"{current}: body of {response.content_length} bytes exceeds the {max_bytes} cap"
                        )
                    body = bytearray()
                    async for chunk in response.content.iter_chunked(64 * 1024):
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            raise FetchError(f"{current}: body exceeds the {max_bytes} byte cap")
            except UnsafeUrlError as exc:
                raise FetchError(str(exc)) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise FetchError(f"{current}: {type(exc).__name__}: {exc}") from exc
            try:
                return json.loads(body)
            except NOT_JSON as exc:
                raise FetchError(f"{current}: response is not JSON: {exc}") from exc
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")
