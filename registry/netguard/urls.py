"""Parse and vet an outbound URL: scheme, authority, host form, port, then every resolved address.

The parser is deliberately stricter than browsers and HTTP clients: anything that two URL parsers
could read differently (backslashes, userinfo, whitespace, legacy numeric hosts such as
`2130706433` or `0177.0.0.1`) is refused rather than interpreted.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from registry.netguard.addresses import IPAddress, refusal_reason
from registry.netguard.errors import UnsafeUrlError
from registry.netguard.policy import OutboundPolicy

MAX_URL_LENGTH = 2048
DEFAULT_PORTS = {"https": 443, "http": 80}
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMERIC_LABEL = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)$")

Resolve = Callable[[str, int], Awaitable[list[str]]]
"""Resolves a host name and port to IP address strings (injectable for tests)."""


@dataclass(frozen=True)
class OutboundTarget:
    """A URL that passed the syntactic checks; `address` is set when the host is an IP literal."""

    url: str
    scheme: str
    host: str
    port: int
    address: IPAddress | None


@dataclass(frozen=True)
class VettedUrl:
    """A URL whose every resolved address was admitted; connect only to `addresses`."""

    target: OutboundTarget
    addresses: tuple[str, ...]

    @property
    def url(self) -> str:
        return self.target.url


def check_url(url: str, policy: OutboundPolicy) -> OutboundTarget:
    """Syntactic checks that need no DNS (also suitable for validating a URL at submission)."""
    if not isinstance(url, str) or not url:
        raise UnsafeUrlError(str(url), "empty URL")
    if len(url) > MAX_URL_LENGTH:
        raise UnsafeUrlError(url[:80] + "...", f"longer than {MAX_URL_LENGTH} characters")
    if any(not 0x21 <= ord(c) <= 0x7E for c in url):
        raise UnsafeUrlError(
            url, "contains whitespace, control or non-ASCII characters (punycode-encode hosts)"
        )
    if "\\" in url:
        raise UnsafeUrlError(url, "contains a backslash")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise UnsafeUrlError(url, f"cannot be parsed: {exc}") from exc
    scheme = parts.scheme.lower()
    allowed = {"https", "http"} if policy.allow_http else {"https"}
    if scheme not in allowed:
        raise UnsafeUrlError(
            url, f"scheme {scheme or '(none)'!r} not allowed; use {' or '.join(sorted(allowed))}"
        )
    if not parts.netloc:
        raise UnsafeUrlError(url, "has no host")
    if "@" in parts.netloc:
        raise UnsafeUrlError(url, "carries userinfo (user:password@); credentials in URLs are refused")
    host, address = _host_of(url, parts.netloc)
    try:
        explicit_port = parts.port
    except ValueError as exc:
        raise UnsafeUrlError(url, f"invalid port: {exc}") from exc
    port = explicit_port if explicit_port is not None else DEFAULT_PORTS[scheme]
    if not 0 < port < 65536:
        raise UnsafeUrlError(url, f"port {port} out of range")
    if policy.allowed_ports is not None and port not in policy.allowed_ports:
        raise UnsafeUrlError(url, f"port {port} not allowed; allowed: {sorted(policy.allowed_ports)}")
    target = OutboundTarget(url=url, scheme=scheme, host=host, port=port, address=address)
    if address is not None:
        _admit(target, address, policy)
    return target


async def vet_url(url: str, policy: OutboundPolicy, *, resolve: Resolve | None = None) -> VettedUrl:
    """Check `url`, resolve its host and refuse when ANY address is not admitted.

    Returns the admitted addresses; connect to those (see `GuardedResolver`) so a second DNS
    answer (rebinding) cannot redirect the connection.
    """
    target = check_url(url, policy)
    if target.address is not None:
        return VettedUrl(target=target, addresses=(str(target.address),))
    addresses = await vet_host(target, policy, resolve=resolve)
    return VettedUrl(target=target, addresses=addresses)


async def vet_host(
    target: OutboundTarget, policy: OutboundPolicy, *, resolve: Resolve | None = None
) -> tuple[str, ...]:
    resolver = resolve or resolve_with_getaddrinfo
    try:
        found = await resolver(target.host, target.port)
    except OSError as exc:
        raise UnsafeUrlError(target.url, f"host {target.host!r} does not resolve: {exc}") from exc
    if not found:
        raise UnsafeUrlError(target.url, f"host {target.host!r} resolves to no address")
    admitted: list[str] = []
    for text in found:
        address = ipaddress.ip_address(text)
        _admit(target, address, policy)
        if str(address) not in admitted:
            admitted.append(str(address))
    return tuple(admitted)


async def resolve_with_getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def _admit(target: OutboundTarget, address: IPAddress, policy: OutboundPolicy) -> None:
    if policy.admits_address(target.host, target.port, address):
        return
    reason = refusal_reason(address)
    if reason is not None:
        raise UnsafeUrlError(target.url, f"host {target.host!r} is refused: {reason}")


def _host_of(url: str, netloc: str) -> tuple[str, IPAddress | None]:
    if netloc.startswith("["):
        literal, closing, _rest = netloc[1:].partition("]")
        if not closing:
            raise UnsafeUrlError(url, "unterminated IPv6 literal")
        if "%" in literal:
            raise UnsafeUrlError(url, "IPv6 zone identifiers are refused")
        try:
            v6 = ipaddress.IPv6Address(literal)
        except ValueError as exc:
            raise UnsafeUrlError(url, f"invalid IPv6 literal: {exc}") from exc
        return str(v6), v6
    host = netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc
    if ":" in host:
        raise UnsafeUrlError(url, "malformed authority")
    host = host.lower()
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise UnsafeUrlError(url, "has no host")
    labels = host.split(".")
    try:
        v4 = ipaddress.IPv4Address(host)
    except ValueError:
        v4 = None
    if v4 is not None:
        return str(v4), v4
    if _NUMERIC_LABEL.match(labels[-1]):
        raise UnsafeUrlError(
            url, f"host {host!r} is a non-canonical numeric address (decimal, octal or hex form)"
        )
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise UnsafeUrlError(url, f"host {host!r} is not a valid host name")
    return host, None
