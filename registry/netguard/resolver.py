"""aiohttp plumbing that pins each connection to vetted addresses (no DNS rebinding window).

aiohttp asks the connector's resolver for addresses when it opens a connection and connects to
exactly what the resolver returns, keeping the URL's host for the Host header and TLS SNI. A
resolver that vets every answer therefore closes the gap between "checked" and "connected".
IP-literal hosts never reach a resolver, so `GuardedSession` checks each URL before sending.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from registry.netguard.errors import UnsafeUrlError
from registry.netguard.policy import OutboundPolicy
from registry.netguard.urls import OutboundTarget, Resolve, check_url, vet_host


class GuardedResolver(AbstractResolver):
    """Resolves with getaddrinfo and raises `UnsafeUrlError` unless every address is admitted."""

    def __init__(self, policy: OutboundPolicy, resolve: Resolve | None = None) -> None:
        self._policy = policy
        self._resolve = resolve

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        name = host.lower().rstrip(".")
        target = OutboundTarget(url=f"//{name}:{port}", scheme="", host=name, port=port, address=None)
        addresses = await vet_host(target, self._policy, resolve=self._resolve or _resolver_for(family))
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET,
                proto=socket.IPPROTO_TCP,
                flags=socket.AI_NUMERICHOST,
            )
            for address in addresses
        ]

    async def close(self) -> None:
        return None


def _resolver_for(family: int) -> Resolve:
    async def resolve(host: str, port: int) -> list[str]:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, family=family, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        return [str(info[4][0]) for info in infos]

    return resolve


class GuardedSession:
    """An aiohttp session for untrusted URLs: vetted addresses only, never a redirect, no proxy.

    Use as `async with GuardedSession(policy) as http: async with http.request(...) as resp:`.
    """

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        timeout: aiohttp.ClientTimeout | None = None,
        resolve: Resolve | None = None,
        user_agent: str = "Clearance",
    ) -> None:
        self.policy = policy
        self._timeout = timeout or aiohttp.ClientTimeout(total=10, connect=5, sock_read=5)
        self._resolve = resolve
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> GuardedSession:
        connector = aiohttp.TCPConnector(
            resolver=GuardedResolver(self.policy, self._resolve), use_dns_cache=False, limit=32
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            trust_env=False,
            headers={"User-Agent": self._user_agent},
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def request(self, method: str, url: str, **kwargs: Any) -> Any:
        """`aiohttp.ClientSession.request` after `check_url`; redirects are never followed."""
        if self._session is None:
            raise RuntimeError("GuardedSession used outside `async with`")
        check_url(url, self.policy)
        kwargs["allow_redirects"] = False
        return self._session.request(method, url, **kwargs)


def guarded_session(
    policy: OutboundPolicy, *, timeout: aiohttp.ClientTimeout | None = None
) -> GuardedSession:
    return GuardedSession(policy, timeout=timeout)


__all__ = ["GuardedResolver", "GuardedSession", "UnsafeUrlError", "guarded_session"]
