"""POST to an untrusted URL through the SSRF guard; the response body is never read."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType

import aiohttp

from registry.delivery.outbox import AttemptResult
from registry.netguard import GuardedSession, OutboundPolicy, UnsafeUrlError

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=15, connect=5, sock_connect=5, sock_read=10)


class OutboundPoster:
    """One pooled, guarded session for a worker; `post` turns every failure into an `AttemptResult`."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        user_agent: str = "Clearance-Delivery/0.1",
    ) -> None:
        self.policy = policy
        self._session = GuardedSession(policy, timeout=timeout, user_agent=user_agent)
        self._open = False

    async def __aenter__(self) -> OutboundPoster:
        await self.open()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def open(self) -> None:
        if not self._open:
            await self._session.__aenter__()
            self._open = True

    async def close(self) -> None:
        if self._open:
            await self._session.close()
            self._open = False

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> AttemptResult:
        await self.open()
        started = time.perf_counter()
        try:
            async with self._session.request("POST", url, data=body, headers=dict(headers)) as response:
                status = response.status
        except UnsafeUrlError as exc:
            return AttemptResult(error=f"refused: {exc.reason}", duration_ms=_ms(started), permanent=True)
        except TimeoutError:
            return AttemptResult(error="timed out", duration_ms=_ms(started))
        except aiohttp.ClientError as exc:
            return AttemptResult(error=f"{type(exc).__name__}: {exc}", duration_ms=_ms(started))
        except asyncio.CancelledError:
            raise
        except OSError as exc:
            return AttemptResult(error=f"{type(exc).__name__}: {exc}", duration_ms=_ms(started))
        error = None if 200 <= status < 300 else f"HTTP {status}"
        return AttemptResult(status_code=status, error=error, duration_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
