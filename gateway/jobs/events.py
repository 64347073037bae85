"""Live job events for Server-Sent Events streams, kept in this process's memory.

Each job's events are kept (bounded) until a while after it ends, so a client that connects
late still sees the whole story; a stream of a job that this process does not know (finished
long ago, or executed by another gateway) is rebuilt from the job's row instead.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

TERMINAL_EVENTS = frozenset({"completed", "failed", "canceled", "aborted"})
_MAX_EVENTS = 2048
_KEEP_AFTER_END_S = 300.0
_KEEP_ENDED = 10_000
"""Ended jobs whose events are kept at most: past it the oldest go first (their streams are then
rebuilt from the row), so memory stays bounded however many jobs a second end."""


@dataclass(frozen=True)
class JobEvent:
    seq: int
    type: str
    data: dict[str, Any]


@dataclass
class _Stream:
    events: list[JobEvent] = field(default_factory=list)
    changed: asyncio.Event | None = None
    """Set by the next event; made by a follower about to wait (most jobs have none, and an
    `asyncio.Event` made and set per event cost more than the rest of `publish`)."""
    ended_at: float | None = None


JobEventObserver = Callable[[str, dict[str, Any]], None]
"""Told of every event published in this process, `(type, data)`, including terminal events of
jobs whose stream is not open here (the metrics count them; it must not raise)."""


class JobEventHub:
    def __init__(self, observer: JobEventObserver | None = None) -> None:
        self._observer = observer
        self._streams: dict[str, _Stream] = {}
        self._ended: deque[tuple[float, str]] = deque()
        """(ended at, job id) in the order jobs ended: the sweep reads only its expired head."""

    def open(self, job_id: str) -> None:
        self._streams.setdefault(job_id, _Stream())

    def knows(self, job_id: str) -> bool:
        return job_id in self._streams

    def publish(self, job_id: str, type_: str, data: dict[str, Any]) -> None:
        if self._observer is not None:
            self._observer(type_, data)
        stream = self._streams.get(job_id)
        if stream is None or stream.ended_at is not None:
            return
        if len(stream.events) < _MAX_EVENTS or type_ in TERMINAL_EVENTS:
            stream.events.append(JobEvent(len(stream.events) + 1, type_, data))
        if type_ in TERMINAL_EVENTS:
            stream.ended_at = time.monotonic()
            self._ended.append((stream.ended_at, job_id))
            self._sweep(stream.ended_at)
        if stream.changed is not None:
            stream.changed.set()
            stream.changed = None

    async def follow(self, job_id: str, after: int = 0) -> AsyncIterator[JobEvent]:
        """Every event after `after`, then live ones until the job ends."""
        stream = self._streams.get(job_id)
        if stream is None:
            return
        position = after
        while True:
            waiter = stream.changed
            if waiter is None:
                waiter = stream.changed = asyncio.Event()
            while position < len(stream.events):
                event = stream.events[position]
                position += 1
                yield event
                if event.type in TERMINAL_EVENTS:
                    return
            if stream.ended_at is not None:
                return
            await waiter.wait()

    def forget_ended(self, job_id: str) -> None:
        """Drop an ended job's kept events (its erasure: the terminal event holds its view);
        followers then read the job's row."""
        stream = self._streams.get(job_id)
        if stream is not None and stream.ended_at is not None:
            del self._streams[job_id]

    def _sweep(self, now: float) -> None:
        ended = self._ended
        while ended and (now - ended[0][0] > _KEEP_AFTER_END_S or len(ended) > _KEEP_ENDED):
            ended_at, job_id = ended.popleft()
            stream = self._streams.get(job_id)
            if stream is not None and stream.ended_at == ended_at:
                del self._streams[job_id]
