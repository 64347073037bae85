"""Progress per step, cancellation between steps and while queued, closing."""

from __future__ import annotations

import asyncio

import pytest

from runners.errors import RunnerClosedError, TaskCanceledError
from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.protocol import Runner
from runners.task import ModelFamily, ProgressEvent
from runners.tiny import TinyModelSet
from tests.runners.support_runner_tasks import DEVICE, make_task


async def test_runner_satisfies_the_protocol(runner: LocalDiffusersRunner) -> None:
    assert isinstance(runner, Runner)
    health = await runner.health()
    assert health.ok
    assert runner.describe().families[0] is ModelFamily.SD1


async def test_cancel_stops_between_steps(runner: LocalDiffusersRunner, tiny_models: TinyModelSet) -> None:
    task = make_task(tiny_models[ModelFamily.FLUX2].pipeline, steps=100)
    events: list[ProgressEvent] = []
    loop = asyncio.get_running_loop()
    pending: list[asyncio.Task[bool]] = []

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.step == 2:
            pending.append(loop.create_task(runner.cancel(task.task_id)))

    with pytest.raises(TaskCanceledError, match="between steps"):
        await runner.submit(task, on_progress)

    assert pending
    assert await pending[0]
    assert 2 <= len(events) < 100
    after = await runner.submit(make_task(tiny_models[ModelFamily.FLUX2].pipeline))  # worker still serves
    assert len(after.images) == 1


async def test_cancel_while_queued(tiny_models: TinyModelSet) -> None:
    runner = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_wait_s=0.0, max_batch_images=1))
    pipeline = tiny_models[ModelFamily.SD1].pipeline
    try:
        long = asyncio.create_task(runner.submit(make_task(pipeline, steps=60)))
        queued_task = make_task(pipeline, prompt="waiting")
        queued = asyncio.create_task(runner.submit(queued_task))
        await asyncio.sleep(0.05)
        assert await runner.cancel(queued_task.task_id)
        with pytest.raises(TaskCanceledError, match="while queued"):
            await queued
        assert len((await long).images) == 1
        assert not await runner.cancel("no-such-task")
    finally:
        await runner.close()


async def test_closing_fails_queued_tasks(tiny_models: TinyModelSet) -> None:
    runner = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_wait_s=10.0, max_batch_images=8))
    queued = asyncio.create_task(runner.submit(make_task(tiny_models[ModelFamily.SD1].pipeline)))
    await asyncio.sleep(0.05)
    await runner.close()

    with pytest.raises(RunnerClosedError):
        await queued
    assert not (await runner.health()).ok
    with pytest.raises(RunnerClosedError):
        await runner.submit(make_task(tiny_models[ModelFamily.SD1].pipeline))


async def test_one_canceled_member_does_not_stop_its_batch(tiny_models: TinyModelSet) -> None:
    runner = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_wait_s=0.2, max_batch_images=2))
    pipeline = tiny_models[ModelFamily.SD1].pipeline
    first, second = make_task(pipeline, steps=40), make_task(pipeline, steps=40, seed=9)
    loop = asyncio.get_running_loop()
    cancels: list[asyncio.Task[bool]] = []

    def on_progress(event: ProgressEvent) -> None:
        if event.step == 3:
            cancels.append(loop.create_task(runner.cancel(first.task_id)))

    try:
        results = await asyncio.gather(
            runner.submit(first, on_progress), runner.submit(second), return_exceptions=True
        )
    finally:
        await runner.close()
    assert isinstance(results[0], TaskCanceledError)
    assert not isinstance(results[1], BaseException)
    assert results[1].batch_size == 2
