"""Batches mixing adapters, one per batch row: each task gets the images it gets alone, and the
routing hooks never outlive their call."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pytest
import torch
from peft.tuners.lora import LoraLayer

from runners.errors import AdapterMismatchError, TaskCanceledError
from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.local.execution import BatchMember, run_batch
from runners.local.families import traits_of
from runners.local.pipelines import WarmPipeline
from runners.local.row_adapters import BASE_ROW, adapter_per_row
from runners.task import AdapterSpec, GenerationResult, GenerationTask, ModelFamily, ProgressEvent
from runners.tiny import TINY_FAMILIES, TinyModel, TinyModelSet, build_tiny_lora
from tests.runners.support_runner_tasks import (
    DEVICE,
    close,
    make_task,
    pixels,
    sd1_lora_reaching_the_text_encoder,
)


def _all_pixels(result: GenerationResult) -> list[np.ndarray]:
    return [pixels(result, i) for i in range(len(result.images))]


def _row_hooks(module: torch.nn.Module) -> int:
    return sum(
        len(m._forward_pre_hooks) + len(m._forward_hooks)
        for m in module.modules()
        if isinstance(m, LoraLayer)
    )


async def _alone(tasks: list[GenerationTask]) -> list[GenerationResult]:
    """Each task in a call of its own."""
    runner = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_wait_s=0.0))
    try:
        return [await runner.submit(task) for task in tasks]
    finally:
        await runner.close()


def _burst_runner(images: int, **settings: Any) -> LocalDiffusersRunner:
    """A runner that batches up to `images` images, waiting a moment for company (a burst's tasks
    are all queued within it)."""
    return LocalDiffusersRunner(
        LocalRunnerSettings(device=DEVICE, max_batch_images=images, max_wait_s=1.0, **settings)
    )


async def _three_in_one_batch_match_alone(tasks: list[GenerationTask]) -> None:
    """Three tasks submitted together run as one batch, each with the images it gets alone."""
    alone = await _alone(tasks)
    runner = _burst_runner(images=3)
    try:
        mixed = await asyncio.gather(*(runner.submit(task) for task in tasks))
    finally:
        await runner.close()

    assert runner.batches_run == [3]
    for own, shared in zip(alone, mixed, strict=True):
        assert close(pixels(own), pixels(shared))


@pytest.mark.parametrize("family", TINY_FAMILIES, ids=lambda f: f.value)
async def test_a_mixed_batch_gives_each_task_the_images_it_gets_alone(
    tiny_models: TinyModelSet, family: ModelFamily
) -> None:
    model = tiny_models[family]
    first, second, third = model.adapters
    tasks = [
        make_task(model.pipeline, (first,), seed=1),
        make_task(model.pipeline, (second,), seed=2, num_images=2),
        make_task(model.pipeline, seed=3),  # the base model
        make_task(model.pipeline, (msgspec.structs.replace(third, scale=0.5),), seed=4),
    ]
    alone = await _alone(tasks)

    runner = _burst_runner(images=5)
    try:
        mixed = await asyncio.gather(*(runner.submit(task) for task in tasks))
        warm = runner.cache.warm()[0]
        assert _row_hooks(getattr(warm.pipe, traits_of(family).denoiser)) == 0
    finally:
        await runner.close()

    assert runner.batches_run == [5]
    assert {result.batch_size for result in mixed} == {5}
    for task, own, shared in zip(tasks, alone, mixed, strict=True):
        for own_image, shared_image in zip(_all_pixels(own), _all_pixels(shared), strict=True):
            assert close(own_image, shared_image), task.task_id
    base = pixels(alone[2])
    base_same_seed = pixels((await _alone([make_task(model.pipeline, (first,), seed=3)]))[0])
    assert not close(base, base_same_seed)  # the adapters do change the images they route


async def test_layers_peft_routes_itself_mix_with_the_others(
    tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    """Convolution LoRA layers keep peft's own per-row routing; linear ones get the stacked one."""
    from diffusers import StableDiffusionPipeline

    model = tiny_models[ModelFamily.SD1]
    with_convolutions = build_tiny_lora(
        StableDiffusionPipeline.from_pretrained(model.path),
        ModelFamily.SD1,
        tmp_path / "conv-lora",
        rank=4,
        seed=31,
        artifact_id="sd-conv-lora",
        targets=("to_q", "to_v", "conv1", "conv2"),
    )
    tasks = [
        make_task(model.pipeline, (with_convolutions,), seed=1),
        make_task(model.pipeline, (model.adapters[0],), seed=2),
        make_task(model.pipeline, seed=3),
    ]
    alone = await _alone(tasks)
    runner = _burst_runner(images=3)
    try:
        mixed = await asyncio.gather(*(runner.submit(task) for task in tasks))
        unet = runner.cache.warm()[0].pipe.unet
        convolutions = [
            m
            for m in unet.modules()
            if isinstance(m, LoraLayer) and isinstance(m.get_base_layer(), torch.nn.Conv2d)
        ]
    finally:
        await runner.close()

    assert convolutions  # the adapter did bring convolution layers
    assert runner.batches_run == [3]
    for own, shared in zip(alone, mixed, strict=True):
        assert close(pixels(own), pixels(shared))


async def test_hot_swap_slots_mix_too(tiny_models: TinyModelSet) -> None:
    """Two slots for three adapters: the third is hot-swapped into a slot between the bursts."""
    model = tiny_models[ModelFamily.FLUX1]
    first, second, third = model.adapters
    bursts = [
        [make_task(model.pipeline, (first,), seed=1), make_task(model.pipeline, (second,), seed=2)],
        [make_task(model.pipeline, (third,), seed=3), make_task(model.pipeline, seed=4)],
    ]
    alone = await _alone([task for burst in bursts for task in burst])
    runner = _burst_runner(images=2, hotswap=True, hotswap_target_rank=8, max_resident_adapters=2)
    try:
        mixed = [result for burst in bursts for result in await asyncio.gather(*map(runner.submit, burst))]
        assert runner.cache.warm()[0].adapters.evictions == 1
    finally:
        await runner.close()

    assert runner.batches_run == [2, 2]
    for own, shared in zip(alone, mixed, strict=True):
        assert close(pixels(own), pixels(shared))


async def test_rows_share_the_always_on_adapter_fused_into_their_pipeline(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.FLUX2_KLEIN]
    turbo = msgspec.structs.replace(model.adapters[0], always_on=True)
    tasks = [
        make_task(model.pipeline, (turbo, model.adapters[1]), seed=1),
        make_task(model.pipeline, (turbo, model.adapters[2]), seed=2),
        make_task(model.pipeline, (turbo,), seed=3),
    ]
    await _three_in_one_batch_match_alone(tasks)


async def test_a_mixed_batch_with_cfg_routes_both_halves(tiny_models: TinyModelSet) -> None:
    """SD 1.x runs the unconditional rows in the same denoiser batch: a negative prompt per task
    and guidance 7 make a mistake in either half visible."""
    model = tiny_models[ModelFamily.SD1]
    tasks = [
        make_task(model.pipeline, (adapter,), seed=i, guidance=7.0, negative_prompt=f"blurry {i}")
        for i, adapter in enumerate(model.adapters)
    ]
    await _three_in_one_batch_match_alone(tasks)


async def test_a_canceled_mixed_batch_leaves_no_hooks(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    tasks = [
        make_task(model.pipeline, (adapter,), steps=40, seed=i) for i, adapter in enumerate(model.adapters)
    ]
    after = make_task(model.pipeline, (model.adapters[0],), seed=9)
    loop = asyncio.get_running_loop()
    cancels: list[asyncio.Task[bool]] = []
    runner = _burst_runner(images=3)

    def on_progress(event: ProgressEvent) -> None:
        if event.step == 2 and event.task_id == tasks[0].task_id:
            cancels.extend(loop.create_task(runner.cancel(task.task_id)) for task in tasks)

    try:
        outcomes = await asyncio.gather(
            runner.submit(tasks[0], on_progress),
            *(runner.submit(t) for t in tasks[1:]),
            return_exceptions=True,
        )
        warm = runner.cache.warm()[0]
        hooks = _row_hooks(warm.pipe.transformer)
        again = await runner.submit(after)  # routed by set_adapters alone, as before any mixing
    finally:
        await runner.close()

    assert all(isinstance(outcome, TaskCanceledError) for outcome in outcomes)
    assert cancels
    assert hooks == 0
    assert runner.batches_run == [1]
    assert close(pixels(again), pixels((await _alone([after]))[0]))


@asynccontextmanager
async def _warm(model: TinyModel, adapters: tuple[AdapterSpec, ...]) -> AsyncIterator[WarmPipeline]:
    """The model's warm pipeline in a runner, with `adapters` resident and active."""
    runner = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE))
    try:
        warm, _ = runner.cache.get(make_task(model.pipeline))
        warm.adapters.activate(adapters, runner._store.load)
        yield warm
    finally:
        await runner.close()


async def test_hooks_are_removed_when_the_call_fails(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    async with _warm(model, model.adapters[:2]) as warm:
        slots = warm.pipe.get_list_adapters()["transformer"]
        members = [
            BatchMember(
                task=make_task(model.pipeline, seed=i), is_canceled=lambda: False, on_step=lambda s, t: None
            )
            for i in range(2)
        ]
        # three names for a call of two rows: peft refuses the call inside the pipeline
        with (
            pytest.raises(ValueError, match="adapter_names"),
            adapter_per_row(warm.pipe.transformer, [*slots, BASE_ROW]),
        ):
            run_batch(warm.pipe, traits_of(ModelFamily.FLUX1), members)
        assert _row_hooks(warm.pipe.transformer) == 0


async def test_a_name_no_layer_holds_is_refused(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.SD1]
    async with _warm(model, model.adapters[:1]) as warm:
        with (
            pytest.raises(ValueError, match="no-such-slot"),
            adapter_per_row(warm.pipe.unet, ["no-such-slot"]),
        ):
            pass
        assert _row_hooks(warm.pipe.unet) == 0


async def test_an_adapter_for_another_model_fails_only_its_own_task(tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    wrong = tiny_models[ModelFamily.SD1].adapters[0]
    tasks = [
        make_task(model.pipeline, (model.adapters[0],), seed=1),
        make_task(model.pipeline, (wrong,), seed=2),
        make_task(model.pipeline, (model.adapters[1],), seed=3),
    ]
    alone = await _alone([tasks[0], tasks[2]])
    runner = _burst_runner(images=3)
    try:
        outcomes = await asyncio.gather(*(runner.submit(task) for task in tasks), return_exceptions=True)
    finally:
        await runner.close()

    assert isinstance(outcomes[1], AdapterMismatchError)
    assert wrong.artifact_id in str(outcomes[1])
    assert runner.batches_run == [2]
    for own, shared in zip(alone, (outcomes[0], outcomes[2]), strict=True):
        assert isinstance(shared, GenerationResult)
        assert close(pixels(own), pixels(shared))


async def test_an_adapter_reaching_the_text_encoder_gets_a_call_of_its_own(
    tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    model = tiny_models[ModelFamily.SD1]
    text_lora = sd1_lora_reaching_the_text_encoder(tiny_models, tmp_path / "text-lora")
    tasks = [
        make_task(model.pipeline, (model.adapters[0],), seed=1),
        make_task(model.pipeline, (text_lora,), seed=2),
        make_task(model.pipeline, (model.adapters[1],), seed=3),
    ]
    alone = await _alone(tasks)
    runner = _burst_runner(images=3)
    try:
        first = await asyncio.gather(*(runner.submit(task) for task in tasks))
        second = await asyncio.gather(
            *(runner.submit(msgspec.structs.replace(task, task_id=f"{task.task_id}-again")) for task in tasks)
        )
    finally:
        await runner.close()

    # the first time its reach is known only once loaded, so the batch is split into two calls;
    # the second time the scheduler keeps it apart to begin with
    assert [result.batch_size for result in first] == [2, 1, 2]
    assert [result.batch_size for result in second] == [2, 1, 2]
    assert sorted(runner.batches_run) == [1, 1, 2, 2]
    for own, *shared in zip(alone, first, second, strict=True):
        for result in shared:
            assert close(pixels(own), pixels(result))
