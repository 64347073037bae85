"""`ShortBlocking`: run a short blocking call (a commit's fsync, writing a small file) inline on
the event loop while such calls stay fast, and on a thread while they are slow.

Inline, a call costs its own time. A hop to a thread and back costs two context switches:
about 0.09 ms on this 2-core host when quiet, and 1-3 ms while other processes kept both cores
busy, against 0.15 ms for an fsync of its disk; on one core, the thread woken for the call can
also preempt the event loop mid-request. But a slow call (network storage, a disk under
pressure) made inline would stall every request on the loop. So a moving average of the calls'
own times decides where the next one runs (see `ShortBlocking.__init__`): a single slow call on
a busy machine no longer sends the next thousand calls to the thread.

The thread is a `WorkerThread`, not a `ThreadPoolExecutor`: a hop through `run_in_executor`
also builds a `concurrent.futures.Future` (a condition and its lock), chains it to the asyncio
future and takes the executor's own locks, 31 us of CPU per hop against 22 us here (both sides
of the hop on one core, `taskset -c 0`, uvloop, 20,000 hops of a call that returns at once).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

_Call = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


class WorkerThread:
    """One thread that runs blocking calls for event loops, one at a time in the order given.

    Started with the first call; `stop()` ends it once the calls given before are done (later
    calls raise `RuntimeError`, as a shut-down executor's do). A call whose awaiting side was
    cancelled before it started is skipped, as an executor skips a cancelled future's call."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._calls: queue.SimpleQueue[_Call | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopped = False

    def run(self, call: Callable[..., T], *args: object) -> asyncio.Future[T]:
        """`call(*args)` on the thread; the future (of the running loop) gets its outcome."""
        if self._stopped:
            raise RuntimeError(f"worker thread {self.name} was stopped")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[T] = loop.create_future()
        if self._thread is None:
            self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
            self._thread.start()
        self._calls.put((loop, answer, call, args))
        return answer

    def stop(self) -> None:
        self._stopped = True
        if self._thread is not None:
            self._calls.put(None)

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            loop, answer, call, args = item
            if answer.done():  # cancelled meanwhile: nobody waits for it
                continue
            result: Any = None
            error: BaseException | None = None
            try:
                result = call(*args)
            except BaseException as exc:  # handed to the awaiting side, as an executor does
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(_settle, answer, result, error)


def _settle(answer: asyncio.Future[Any], result: object, error: BaseException | None) -> None:
    if answer.done():
        return
    if error is None:
        answer.set_result(result)
    else:
        answer.set_exception(error)


class ShortBlocking:
    def __init__(
        self,
        thread: WorkerThread | None = None,
        *,
        threshold_s: float = 0.001,
        smoothing: float = 0.1,
    ) -> None:
        """`thread`: where slow calls go (None: a thread of its own, started when first needed).

        Every call is timed where it runs, and a moving average of those times (weight
        `smoothing` for the newest) decides: calls go to the thread once the average passes
        `threshold_s`, and come back inline once it falls under half of it. One call made
        slow by a busy machine moves the average a little; a disk that has become slow (or
        one very slow call) moves it past the threshold at once."""
        self.thread = thread if thread is not None else WorkerThread("short-blocking")
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
            return await self.thread.run(self._timed, call, args)
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
