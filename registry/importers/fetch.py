"""Fetching a JSON document from a URL someone typed, without becoming an SSRF proxy.

Every hop (the URL and each redirect, followed by hand) must be http(s) and resolve only to public
addresses: loopback, private, link-local, multicast, reserved and unspecified addresses are
refused unless the host is in an explicit allowlist (tests allow `127.0.0.1`). Bodies are read as
a stream and cut off at a size cap; every phase has a timeout. The address check happens before
connecting, so a DNS answer that changes between the check and the connection (rebinding) is not
covered; deployments that need that should fetch through an egress proxy.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Collection
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx

from registry.importers.errors import FetchError

DEFAULT_MAX_BYTES = 8 * 1024 * 1024
DEFAULT_TIMEOUT = httpx.Timeout(15.0, connect=5.0)
MAX_REDIRECTS = 3


def _addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchError(f"{host}: cannot resolve: {exc}") from exc
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


def check_url(url: str, allow_hosts: Collection[str] = ()) -> None:
    """Refuse URLs that are not http(s) or that reach a non-public address (unless allowlisted)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise FetchError(f"{url}: only http(s) URLs with a host can be fetched")
    host = parts.hostname
    if host in allow_hosts:
        return
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for address in _addresses(host, port):
        if not _is_public(address):
            raise FetchError(
                f"{url}: {host} resolves to non-public address {address}; refused "
                "(allowlist the host explicitly to fetch from it)"
            )


def fetch_json(
    url: str,
    *,
    allow_hosts: Collection[str] = (),
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Any:
    """GET `url` and decode its JSON body, with the checks above on every hop."""
    current = url
    with httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(current, allow_hosts)
            try:
                with client.stream("GET", current, headers=headers) as response:
                    if response.is_redirect:
                        location = response.headers.get("Location")
                        if not location:
                            raise FetchError(f"{current}: redirect without a Location header")
                        current = urljoin(current, location)
                        continue
                    if response.status_code != 200:
                        raise FetchError(f"{current}: HTTP {response.status_code}")
                    declared = response.headers.get("Content-Length")
                    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
                        raise FetchError(f"{current}: body of {declared} bytes exceeds the {max_bytes} cap")
                    body = bytearray()
                    for chunk in response.iter_bytes():
                        body.extend(chunk)
                        if len(body) > max_bytes:
                            raise FetchError(f"{current}: body exceeds the {max_bytes} byte cap")
            except httpx.HTTPError as exc:
                raise FetchError(f"{current}: {type(exc).__name__}: {exc}") from exc
            try:
                return json.loads(body)
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise FetchError(f"{current}: response is not JSON: {exc}") from exc
    raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects")
