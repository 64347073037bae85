"""HTTP to a provider, with the rules every call follows: a timeout, a size cap on what is read,
redirects never followed, the expected content type, retries only where a retry cannot do the
work twice, and the runner's circuit breaker around the whole call.

aiohttp rather than httpx: on this machine a forwarder did 3,800-7,600 requests/s per core
through aiohttp and 1,000-1,800 through httpx (`python -m bench.runners` measures it again).
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import msgspec
from aiohttp.helpers import get_env_proxy_for_url
from yarl import URL

from runners.errors import (
    ProviderError,
    ProviderRejectedError,
    ProviderTimeoutError,
)
from runners.protocol import RunnerLimits
from runners.remote.resilience import CircuitBreaker, RetryPolicy, parse_retry_after

_ALWAYS_RETRYABLE = frozenset({429, 503})
"""The provider says it did not process the request: safe to repeat even a POST."""
_RETRYABLE_IF_IDEMPOTENT = frozenset({408, 500, 502, 504})

_Proxy = tuple[URL | None, aiohttp.BasicAuth | None]


def _proxy_from_env(url: str) -> _Proxy:
    try:
        return get_env_proxy_for_url(URL(url))
    except LookupError:  # no proxy for it, or NO_PROXY names its host
        return None, None


@dataclass(frozen=True, kw_only=True)
class ProviderSettings:
    """One remote runner's configuration; the operator's settings, never a task, supply the key."""

    runner_id: str
    base_url: str
    api_key: str = field(repr=False)
    models: tuple[str, ...] = ()
    """Provider model names this runner may call (empty: any the task names)."""
    connect_timeout_s: float = 5.0
    request_timeout_s: float = 60.0
    task_timeout_s: float = 600.0
    poll_interval_s: float = 0.5
    max_response_bytes: int = 32 * 2**20
    max_image_pixels: int = 64 * 2**20
    download_hosts: tuple[str, ...] = ()
    """Hosts that image URLs may point to besides the provider's own (fetched without the key);
    an entry with a leading dot, `.example.com`, admits every host under that domain."""
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    proxy: str | None = field(default=None, repr=False)
    """HTTP proxy every call goes through (`http://[user:password@]host:port`); None: the
    environment's `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY`, as the provider's own SDKs read them."""
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    limits: RunnerLimits = field(
        default_factory=lambda: RunnerLimits(
            max_width=2048, max_height=2048, max_steps=100, max_images=4, max_batch=4
        )
    )


@dataclass(frozen=True)
class ProviderResponse:
    status: int
    content_type: str
    body: bytes
    url: str


class ProviderClient:
    def __init__(self, settings: ProviderSettings, auth_headers: dict[str, str]) -> None:
        self.settings = settings
        self.breaker = CircuitBreaker(
            failure_threshold=settings.breaker_failures, reset_after_s=settings.breaker_reset_s
        )
        self._auth = auth_headers
        self.key_netlocs = {urlsplit(settings.base_url).netloc}
        """Hosts (with their port) that get the key: the provider's own API, and hosts a protocol
        has checked belong to it (BFL's regional polling hosts)."""
        self._session: aiohttp.ClientSession | None = None
        self._env_proxies: dict[tuple[str, str], _Proxy] = {}
        """The environment's proxy for each scheme and host called, read on the first call."""
        self._rng = random.Random()
        self.attempts = 0
        """HTTP attempts made (for tests and benchmarks)."""

    def url(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + "/" + path.lstrip("/")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(
                    total=self.settings.request_timeout_s, sock_connect=self.settings.connect_timeout_s
                ),
                connector=aiohttp.TCPConnector(limit=256),
                proxy=self.settings.proxy,
                # Not `trust_env`: with it aiohttp reads the environment and ~/.netrc on every
                # request, in two thread hops (`_env_proxy` reads them once per host).
                trust_env=False,
            )
        return self._session

    async def _env_proxy(self, scheme: str, host: str, url: str) -> _Proxy:
        """The proxy `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` (credentials from ~/.netrc where
        the proxy's URL has none) give for `url`, as aiohttp's `trust_env` finds it; read once per
        scheme and host."""
        key = (scheme, host)
        found = self._env_proxies.get(key)
        if found is None:
            found = await asyncio.to_thread(_proxy_from_env, url)
            self._env_proxies[key] = found
        return found

    async def call(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        idempotent: bool,
        expect: str = "application/json",
    ) -> ProviderResponse:
        """One logical call, retried where safe; raises a `ProviderError` subclass on failure."""
        runner_id = self.settings.runner_id
        self.breaker.before_call(runner_id)
        policy = self.settings.retry
        last: ProviderError | None = None
        for attempt in range(1, policy.attempts + 1):
            retry_after: float | None = None
            try:
                response = await self._send(method, url, json=json, expect=expect)
            except _Retryable as exc:
                last, retry_after = exc.error, exc.retry_after
                if not (exc.always or idempotent):
                    break
            except ProviderRejectedError:
                self.breaker.record_success()  # the provider is up; the request was wrong
                raise
            except ProviderError:
                self.breaker.record_failure()
                raise
            else:
                self.breaker.record_success()
                return response
            if attempt < policy.attempts:
                await asyncio.sleep(policy.delay(attempt, retry_after, self._rng))
        self.breaker.record_failure()
        assert last is not None
        raise last

    async def _send(self, method: str, url: str, *, json: Any, expect: str) -> ProviderResponse:
        runner_id = self.settings.runner_id
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ProviderError(f"runner {runner_id}: refusing {parts.scheme!r} URL {url}")
        keyed = parts.netloc in self.key_netlocs
        if not keyed and not _download_host(parts.hostname or "", self.settings.download_hosts):
            raise ProviderError(f"runner {runner_id}: host {parts.netloc} is not an allowed download host")
        headers = dict(self._auth) if keyed else {}
        data = None
        if json is not None:  # msgspec: the same JSON as aiohttp's json.dumps, several times faster
            data = msgspec.json.encode(json)
            headers["Content-Type"] = "application/json"
        self.attempts += 1
        proxy = proxy_auth = None
        if self.settings.proxy is None:
            proxy, proxy_auth = await self._env_proxy(parts.scheme, parts.hostname or "", url)
        try:
            async with self._session_now().request(
                method,
                url,
                data=data,
                headers=headers,
                allow_redirects=False,
                proxy=proxy,
                proxy_auth=proxy_auth,
            ) as response:
                status = response.status
                if 300 <= status < 400:
                    raise ProviderError(
                        f"runner {runner_id}: {method} {parts.path} answered {status} redirect to "
                        f"{response.headers.get('Location', '?')}; redirects are not followed"
                    )
                if status in _ALWAYS_RETRYABLE or status in _RETRYABLE_IF_IDEMPOTENT:
                    raise _Retryable(
                        ProviderError(f"runner {runner_id}: {method} {parts.path} answered {status}"),
                        retry_after=parse_retry_after(response.headers.get("Retry-After")),
                        always=status in _ALWAYS_RETRYABLE,
                    )
                body = await self._read_capped(response, f"{method} {parts.path}")
                if 400 <= status < 500:
                    raise ProviderRejectedError(
                        f"runner {runner_id}: {method} {parts.path} rejected with {status}: {body[:200]!r}"
                    )
                if status >= 500 or status < 200:
                    raise ProviderError(f"runner {runner_id}: {method} {parts.path} answered {status}")
                content_type = response.content_type
                if not _matches(content_type, expect):
                    raise ProviderError(
                        f"runner {runner_id}: {method} {parts.path} sent {content_type!r}, "
                        f"expected {expect!r}"
                    )
                return ProviderResponse(status=status, content_type=content_type, body=body, url=url)
        except TimeoutError as exc:
            raise _Retryable(
                ProviderTimeoutError(f"runner {runner_id}: {method} {parts.path} timed out"), always=False
            ) from exc
        except aiohttp.ClientProxyConnectionError as exc:  # nothing was sent either
            named = urlsplit(self.settings.proxy or str(proxy or ""))
            where = f"{named.hostname}:{named.port}" if named.hostname else "the environment's"
            raise _Retryable(
                ProviderError(f"runner {runner_id}: cannot connect to its proxy {where}: {exc}"), always=True
            ) from exc
        except aiohttp.ClientConnectorError as exc:  # nothing was sent: always safe to retry
            raise _Retryable(
                ProviderError(f"runner {runner_id}: cannot connect to {parts.netloc}: {exc}"), always=True
            ) from exc
        except aiohttp.ClientError as exc:
            raise _Retryable(
                ProviderError(f"runner {runner_id}: {method} {parts.path} failed: {exc!r}"), always=False
            ) from exc

    async def _read_capped(self, response: aiohttp.ClientResponse, what: str) -> bytes:
        cap = self.settings.max_response_bytes
        declared = response.content_length
        if declared is not None and declared > cap:
            raise ProviderError(
                f"runner {self.settings.runner_id}: {what} declares {declared} bytes, cap {cap}"
            )
        if declared is not None:  # aiohttp reads exactly the declared length, at most the cap
            return await response.read()
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(65536):
            size += len(chunk)
            if size > cap:
                raise ProviderError(f"runner {self.settings.runner_id}: {what} sent more than {cap} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


class _Retryable(Exception):
    def __init__(self, error: ProviderError, *, always: bool, retry_after: float | None = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.always = always
        self.retry_after = retry_after


def _download_host(host: str, allowed: tuple[str, ...]) -> bool:
    return any(host == entry or (entry.startswith(".") and host.endswith(entry)) for entry in allowed)


def _matches(content_type: str, expect: str) -> bool:
    if expect.endswith("/*"):
        return content_type.startswith(expect[:-1])
    return content_type == expect
