"""The queue in front of a device's single worker: it batches compatible tasks and prefers tasks
whose adapters are already active, within a bound so that no task starves.

Swapping adapters or pipelines costs far more than a denoising step of a small batch, so taking
tasks out of arrival order pays; the starvation bound caps how often the oldest task may be passed
over. Pure Python and thread-safe, so its policy is testable without a model.

Tasks of different adapters can share a call too (one adapter per batch row: `row_adapters`), when the
runner says each may (`mixable`: one switched adapter at most, none reaching a text encoder): a
batch is then filled with the anchor's own adapter set first, then with tasks whose adapters are
active or resident, then with cold ones, oldest first within each, as long as its adapters fit the
resident slots together (`max_batch_adapters`) and each adapter has one scale in it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from runners.errors import RunnerClosedError
from runners.local.adapters import AdapterKey, ScaledAdapterKey, scaled_keys
from runners.local.pipelines import PipelineKey, pipeline_key
from runners.task import GenerationTask

Payload = TypeVar("Payload")


@dataclass(frozen=True)
class CallKey:
    """What every task of one pipeline call shares, whatever adapters each one switches on (the
    pipeline key includes the always-on adapters fused into it)."""

    pipeline: PipelineKey
    width: int
    height: int
    steps: int
    guidance: float
    sigmas: tuple[float, ...] | None


@dataclass(frozen=True)
class BatchKey:
    """Tasks with equal keys can always share one pipeline call; tasks with equal `call` but other
    adapters only as a mixed batch."""

    call: CallKey
    adapters: tuple[ScaledAdapterKey, ...]
    """(artifact id, sha256, scale) of each switched adapter, in order."""

    @property
    def pipeline(self) -> PipelineKey:
        return self.call.pipeline


def batch_key(task: GenerationTask) -> BatchKey:
    return BatchKey(
        call=CallKey(
            pipeline=pipeline_key(task),
            width=task.width,
            height=task.height,
            steps=task.steps,
            guidance=task.guidance,
            sigmas=task.sigmas,
        ),
        adapters=scaled_keys(task.switched_adapters),
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
MixableOf = Callable[[BatchKey], bool]
"""Whether tasks with this key may share a call with tasks of other adapters."""


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
        max_batch_adapters: int = 1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`max_batch_adapters`: distinct adapters a mixed batch may hold (the resident slots); 1
        keeps every batch to one adapter set."""
        self._max_images = max_batch_images
        self._max_adapters = max_batch_adapters
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

    def take(
        self, affinity: AffinityOf, mixable: MixableOf | None = None
    ) -> list[QueuedTask[Payload]] | None:
        """Block until a batch is ready (full, or its oldest task waited `max_wait_s`); None once closed.
        Without `mixable`, a batch holds one adapter set."""
        with self._cond:
            while True:
                if self._closed:
                    return None
                if not self._items:
                    self._cond.wait()
                    continue
                batch = self._choose(affinity, mixable)
                images = sum(item.images for item in batch)
                deadline = min(item.enqueued_at for item in batch) + self._max_wait
                now = self._clock()
                if images >= self._max_images or now >= deadline:
                    self._commit(batch)
                    return batch
                self._cond.wait(timeout=deadline - now)

    def select_now(self, affinity: AffinityOf, mixable: MixableOf | None = None) -> list[QueuedTask[Payload]]:
        """Take the batch the policy picks right now, without waiting (empty when nothing is queued)."""
        with self._cond:
            if not self._items:
                return []
            batch = self._choose(affinity, mixable)
            self._commit(batch)
            return batch

    def _choose(self, affinity: AffinityOf, mixable: MixableOf | None) -> list[QueuedTask[Payload]]:
        costs: dict[BatchKey, int] = {}

        def cost(key: BatchKey) -> int:
            found = costs.get(key)
            if found is None:
                found = costs[key] = affinity(key)
            return found

        head = self._items[0]
        if head.bypassed >= self._bound:
            anchor = head
        else:
            anchor = self._items[min(range(len(self._items)), key=lambda i: (cost(self._items[i].key), i))]
        company = [item for item in self._items if item is not anchor and item.key == anchor.key]
        if mixable is not None and self._max_adapters > 1 and mixable(anchor.key):
            verdicts: dict[BatchKey, bool] = {}
            others = [
                item
                for item in self._items
                if item.key != anchor.key
                and item.key.call == anchor.key.call
                and verdicts.setdefault(item.key, mixable(item.key))
            ]
            company += sorted(others, key=lambda item: cost(item.key))  # stable: oldest first
        scales = {(i, s): scale for i, s, scale in anchor.key.adapters}
        batch = [anchor]
        images = anchor.images
        for item in company:
            if images + item.images > self._max_images:
                continue
            if item.key != anchor.key and not _fits(item.key.adapters, scales, self._max_adapters):
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


def _fits(adapters: tuple[ScaledAdapterKey, ...], scales: dict[AdapterKey, float], limit: int) -> bool:
    """Add `adapters` to a mixed batch's `scales` when none has another scale there (a resident
    adapter has one scale per call) and the batch's adapters still fit `limit` slots."""
    wanted = {(i, s): scale for i, s, scale in adapters}
    if any(scales.get(key, scale) != scale for key, scale in wanted.items()):
        return False
    if len(scales.keys() | wanted.keys()) > limit:
        return False
    scales.update(wanted)
    return True
