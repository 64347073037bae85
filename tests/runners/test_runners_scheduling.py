"""The queue's policy: compatible tasks batch together (tasks of other adapters too, one adapter per
row), active adapters go first, nobody starves."""

from __future__ import annotations

import asyncio

import msgspec

from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.local.scheduling import Affinity, BatchKey, TaskQueue
from runners.task import ModelFamily
from runners.tiny import TinyModelSet
from tests.runners.support_runner_tasks import DEVICE, make_task


def _queue(max_batch: int = 4, bound: int = 3) -> TaskQueue[str]:
    return TaskQueue(max_batch_images=max_batch, max_wait_s=0.0, starvation_bound=bound)


def _cold(_key: BatchKey) -> int:
    return Affinity.COLD


def test_compatible_tasks_batch_together_up_to_the_limit(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.SD1]
    a, b = model.adapters[0], model.adapters[1]
    queue = _queue(max_batch=4)
    tasks = [
        make_task(model.pipeline, (a,)),
        make_task(model.pipeline, (b,)),
        make_task(model.pipeline, (a,), prompt="another prompt", seed=3),
        make_task(model.pipeline, (a,), num_images=2),
        make_task(model.pipeline, (a,)),  # would make 5 images: next batch
        make_task(model.pipeline, (a,), steps=8),  # other steps: never with the others
        make_task(model.pipeline, (msgspec.structs.replace(a, scale=0.5),)),  # other scale
    ]
    for task in tasks:
        queue.put(task, task.task_id)

    batches = [[item.payload for item in queue.select_now(_cold)] for _ in range(5)]

    ids = [t.task_id for t in tasks]
    assert batches == [[ids[0], ids[2], ids[3]], [ids[1]], [ids[4]], [ids[5]], [ids[6]]]
    assert len(queue) == 0


def test_active_adapters_go_first_within_the_starvation_bound(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.SD1]
    cold, warm = model.adapters[0], model.adapters[1]
    queue = _queue(max_batch=1, bound=2)
    old = make_task(model.pipeline, (cold,))
    queue.put(old, "old")
    for i in range(5):
        queue.put(make_task(model.pipeline, (warm,), seed=i), f"warm-{i}")
    warm_key = next(item.key for item in queue._items if item.payload == "warm-0")

    def affinity(key: BatchKey) -> int:
        return Affinity.ACTIVE if key == warm_key else Affinity.COLD

    order = [queue.select_now(affinity)[0].payload for _ in range(6)]

    assert order == ["warm-0", "warm-1", "old", "warm-2", "warm-3", "warm-4"]


def test_resident_beats_cold_and_age_breaks_ties(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.SD1]
    queue = _queue(max_batch=1, bound=10)
    for i, adapter in enumerate(model.adapters):
        queue.put(make_task(model.pipeline, (adapter,)), f"t{i}")
    resident = next(item.key for item in queue._items if item.payload == "t2")

    order = [
        queue.select_now(lambda k: Affinity.RESIDENT if k == resident else Affinity.COLD)[0].payload
        for _ in range(3)
    ]

    assert order == ["t2", "t0", "t1"]


async def test_runner_batches_a_burst_and_prefers_warm_adapters(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    runner = LocalDiffusersRunner(
        LocalRunnerSettings(device=DEVICE, max_batch_images=4, max_wait_s=0.05, starvation_bound=4)
    )
    try:
        await runner.submit(make_task(model.pipeline))  # warm the pipeline
        adapters = [model.adapters[i % 2] for i in range(8)]
        tasks = [make_task(model.pipeline, (adapter,), seed=i) for i, adapter in enumerate(adapters)]
        results = await asyncio.gather(*(runner.submit(task) for task in tasks))
    finally:
        await runner.close()

    assert [r.task_id for r in results] == [t.task_id for t in tasks]
    assert runner.batches_run[1:] == [4, 4]
    assert {r.batch_size for r in results} == {4}


def _one_adapter_at_most(key: BatchKey) -> bool:
    return len(key.adapters) <= 1


def test_tasks_of_different_adapters_mix_within_the_limits(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.SD1]
    a, b, c = model.adapters
    queue = TaskQueue[str](max_batch_images=4, max_wait_s=0.0, starvation_bound=3, max_batch_adapters=2)
    tasks = {
        "a": make_task(model.pipeline, (a,)),
        "b": make_task(model.pipeline, (b,)),
        "c": make_task(model.pipeline, (c,)),  # a third adapter: past the two the batch may hold
        "a, 8 steps": make_task(model.pipeline, (a,), steps=8),  # another call whatever its adapter
        "a at 0.5": make_task(model.pipeline, (msgspec.structs.replace(a, scale=0.5),)),
        "a and b": make_task(model.pipeline, (a, b)),  # two adapters: one row takes one
        "a again": make_task(model.pipeline, (a,), seed=3),
        "base": make_task(model.pipeline),
    }
    for name, task in tasks.items():
        queue.put(task, name)

    batches = [[item.payload for item in queue.select_now(_cold, _one_adapter_at_most)] for _ in range(4)]

    assert batches == [
        ["a", "a again", "b", "base"],  # its own adapter set first, then the oldest that fit
        ["c", "a at 0.5"],
        ["a, 8 steps"],
        ["a and b"],
    ]
    assert len(queue) == 0


def test_mixed_company_prefers_warm_adapters(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.SD1]
    active, cold, resident = model.adapters
    queue = TaskQueue[str](max_batch_images=2, max_wait_s=0.0, starvation_bound=3, max_batch_adapters=4)
    for name, adapter in (("cold", cold), ("active", active), ("resident", resident)):
        queue.put(make_task(model.pipeline, (adapter,)), name)
    costs = {adapter.artifact_id: cost for adapter, cost in ((active, 0), (resident, 1), (cold, 2))}

    def affinity(key: BatchKey) -> int:
        return costs[key.adapters[0][0]]

    batch = [item.payload for item in queue.select_now(affinity, _one_adapter_at_most)]

    assert batch == ["active", "resident"]


def test_the_starvation_bound_holds_for_a_task_that_cannot_mix(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.SD1]
    a, b, warm = model.adapters
    queue = TaskQueue[str](max_batch_images=2, max_wait_s=0.0, starvation_bound=2, max_batch_adapters=4)
    queue.put(make_task(model.pipeline, (a, b)), "two adapters")
    for i in range(6):
        queue.put(make_task(model.pipeline, (warm,), seed=i), f"warm-{i}")

    warm_key = next(item.key for item in queue._items if item.payload == "warm-0")

    def affinity(key: BatchKey) -> int:
        return Affinity.ACTIVE if key == warm_key else Affinity.COLD

    order = [[item.payload for item in queue.select_now(affinity, _one_adapter_at_most)] for _ in range(4)]

    assert order == [["warm-0", "warm-1"], ["warm-2", "warm-3"], ["two adapters"], ["warm-4", "warm-5"]]
