"""`ShortBlocking`: run a short blocking call (a commit's fsync, writing a small file) inline on
the event loop while such calls stay fast, and on a thread while they are slow.

Inline, a call costs its own time. A hop to a thread and back costs two context switches:
about 0.09 ms on this 2-core host when quiet, and 1-3 ms while other processes kept both cores
busy, against 0.15 ms for an fsync of its disk; on one core, the thread woken for the call can
also preempt the event loop mid-request. But a slow call (network storage, a disk under
pressure) made inline would stall every request on the loop. So a moving average of the calls'
own times decides where the next one runs (see `ShortBlocking.__init__`): a single slow call on
a busy machine no longer sends the next thousand calls to the thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class ShortBlocking:
    def __init__(
        self,
        executor: ThreadPoolExecutor | None = None,
        *,
        threshold_s: float = 0.001,
        smoothing: float = 0.1,
    ) -> None:
        """`executor`: where slow calls go (None: the event loop's default executor).

        Every call is timed where it runs, and a moving average of those times (weight
        `smoothing` for the newest) decides: calls go to the thread once the average passes
        `threshold_s`, and come back inline once it falls under half of it. One call made
        slow by a busy machine moves the average a little; a disk that has become slow (or
        one very slow call) moves it past the threshold at once."""
        self.executor = executor
        self.threshold_s = threshold_s
        self.smoothing = smoothing
        self.average_s = 0.0
        self._threaded = False
        self.slow_calls = 0
        """Calls that took longer than the threshold, wherever they ran."""

    @property
    def inline(self) -> bool:
        """Whether the next call runs inline."""
        return not self._threaded

    async def run(self, call: Callable[..., T], *args: object) -> T:
        if self._threaded:
            return await asyncio.get_running_loop().run_in_executor(self.executor, self._timed, call, args)
        return self._timed(call, args)

    def _timed(self, call: Callable[..., T], args: tuple[object, ...]) -> T:
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            self._observe(time.perf_counter() - started)

    def _observe(self, seconds: float) -> None:
        if seconds > self.threshold_s:
            self.slow_calls += 1
        self.average_s += self.smoothing * (seconds - self.average_s)
        if self._threaded:
            self._threaded = self.average_s > self.threshold_s / 2
        else:
            self._threaded = self.average_s > self.threshold_s
