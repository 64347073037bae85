"""The queue in front of a device's single worker: it batches compatible tasks and prefers tasks
whose adapters are already active, within a bound so that no task starves.

Swapping adapters or pipelines costs far more than a denoising step of a small batch, so taking
tasks out of arrival order pays; the starvation bound caps how often the oldest task may be passed
over. Pure Python and thread-safe, so its policy is testable without a model.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from runners.errors import RunnerClosedError
from runners.local.pipelines import PipelineKey, pipeline_key
from runners.task import GenerationTask

Payload = TypeVar("Payload")


@dataclass(frozen=True)
class BatchKey:
    """Tasks with equal keys can share one pipeline call."""

    pipeline: PipelineKey
    adapters: tuple[tuple[str, str, float], ...]
    width: int
    height: int
    steps: int
    guidance: float
    sigmas: tuple[float, ...] | None


def batch_key(task: GenerationTask) -> BatchKey:
    return BatchKey(
        pipeline=pipeline_key(task),
        adapters=tuple((a.artifact_id, a.sha256, a.scale) for a in task.switched_adapters),
        width=task.width,
        height=task.height,
        steps=task.steps,
        guidance=task.guidance,
        sigmas=task.sigmas,
    )


class Affinity:
    """How costly it is to start a batch: lower is cheaper."""

    ACTIVE = 0
    """Pipeline warm and exactly these adapters switched on."""
    RESIDENT = 1
    """Pipeline warm and the adapters loaded: a `set_adapters` call away."""
    COLD = 2
    """A load is needed."""


AffinityOf = Callable[[BatchKey], int]


@dataclass
class QueuedTask(Generic[Payload]):
    task: GenerationTask
    key: BatchKey
    payload: Payload
    enqueued_at: float
    bypassed: int = 0

    @property
    def images(self) -> int:
        return self.task.num_images


class TaskQueue(Generic[Payload]):
    def __init__(
        self,
        *,
        max_batch_images: int,
        max_wait_s: float,
        starvation_bound: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_images = max_batch_images
        self._max_wait = max_wait_s
        self._bound = starvation_bound
        self._clock = clock
        self._items: list[QueuedTask[Payload]] = []
        self._cond = threading.Condition()
        self._closed = False

    def put(self, task: GenerationTask, payload: Payload) -> QueuedTask[Payload]:
        item = QueuedTask(task=task, key=batch_key(task), payload=payload, enqueued_at=self._clock())
        with self._cond:
            if self._closed:
                raise RunnerClosedError(f"task {task.task_id}: the queue is closed")
            self._items.append(item)
            self._cond.notify_all()
        return item

    def remove(self, task_id: str) -> QueuedTask[Payload] | None:
        with self._cond:
            for index, item in enumerate(self._items):
                if item.task.task_id == task_id:
                    return self._items.pop(index)
        return None

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)

    def close(self) -> list[QueuedTask[Payload]]:
        """Stop taking tasks; return those still queued so their submitters can be told."""
        with self._cond:
            self._closed = True
            left, self._items = self._items, []
            self._cond.notify_all()
            return left

    def take(self, affinity: AffinityOf) -> list[QueuedTask[Payload]] | None:
        """Block until a batch is ready (full, or its oldest task waited `max_wait_s`); None once closed."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if not self._items:
                    self._cond.wait()
                    continue
                batch = self._choose(affinity)
                images = sum(item.images for item in batch)
                deadline = min(item.enqueued_at for item in batch) + self._max_wait
                now = self._clock()
                if images >= self._max_images or now >= deadline:
                    self._commit(batch)
                    return batch
                self._cond.wait(timeout=deadline - now)

    def select_now(self, affinity: AffinityOf) -> list[QueuedTask[Payload]]:
        """Take the batch the policy picks right now, without waiting (empty when nothing is queued)."""
        with self._cond:
            if not self._items:
                return []
            batch = self._choose(affinity)
            self._commit(batch)
            return batch

    def _choose(self, affinity: AffinityOf) -> list[QueuedTask[Payload]]:
        head = self._items[0]
        if head.bypassed >= self._bound:
            chosen = head
        else:
            costs: dict[BatchKey, int] = {}
            best = min(
                range(len(self._items)),
                key=lambda i: (costs.setdefault(self._items[i].key, affinity(self._items[i].key)), i),
            )
            chosen = self._items[best]
        batch = [chosen]
        images = chosen.images
        for item in self._items:
            if item is chosen or item.key != chosen.key:
                continue
            if images + item.images > self._max_images:
                continue
            batch.append(item)
            images += item.images
        return batch

    def _commit(self, batch: list[QueuedTask[Payload]]) -> None:
        """Only the oldest task counts as passed over: counting every older task would force
        head-of-line order for all of them at once and degrade into FIFO with adapter thrash."""
        taken = {id(item) for item in batch}
        head = self._items[0]
        if id(head) not in taken:
            head.bypassed += 1
        self._items = [item for item in self._items if id(item) not in taken]
