"""`ShortBlocking`: run a short blocking call (a commit's fsync, writing a small file) inline on
the event loop while such calls stay fast, and on a thread once one is slow.

Inline, a call costs its own time. A hop to a thread and back costs two context switches:
about 0.09 ms on this 2-core host when quiet, and 1-3 ms while other processes kept both cores
busy, against 0.08 ms for an fsync of its disk. But a slow call
(network storage, a disk under pressure) made inline would stall every request on the loop, so
after one call slower than `threshold_s` the next `cooldown` calls go to the thread, then one is
tried inline again.
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
        self, executor: ThreadPoolExecutor | None = None, *, threshold_s: float = 0.001, cooldown: int = 1000
    ) -> None:
        """`executor`: where slow calls go (None: the event loop's default executor)."""
        self.executor = executor
        self.threshold_s = threshold_s
        self.cooldown = cooldown
        self._threaded_left = 0
        self.slow_calls = 0
        """Calls that took longer than the threshold inline (each sends the next ones to the thread)."""

    @property
    def inline(self) -> bool:
        """Whether the next call runs inline."""
        return self._threaded_left == 0

    async def run(self, call: Callable[..., T], *args: object) -> T:
        if self._threaded_left > 0:
            self._threaded_left -= 1
            return await asyncio.get_running_loop().run_in_executor(self.executor, call, *args)
        started = time.perf_counter()
        try:
            return call(*args)
        finally:
            if time.perf_counter() - started > self.threshold_s:
                self.slow_calls += 1
                self._threaded_left = self.cooldown
