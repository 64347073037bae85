"""Each tiny family loads from verified safetensors and generates through the runner."""

from __future__ import annotations

import json

import pytest

from runners.local import LocalDiffusersRunner
from runners.provenance import read_provenance
from runners.task import ModelFamily, ProgressEvent
from runners.tiny import TINY_FAMILIES, TinyModelSet
from tests.runners.support_runner_tasks import DEVICE, close, make_task, pixels


@pytest.mark.parametrize("family", TINY_FAMILIES, ids=lambda f: f.value)
async def test_each_family_generates_with_an_adapter(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet, family: ModelFamily
) -> None:
    model = tiny_models[family]
    events: list[ProgressEvent] = []
    task = make_task(model.pipeline, (model.adapters[0],), num_images=2)

    result = await runner.submit(task, events.append)

    assert result.task_id == task.task_id
    assert [image.seed for image in result.images] == [7, 8]
    assert pixels(result).shape == (32, 32, 3)
    assert [e.step for e in events if e.task_id == task.task_id] == [1, 2, 3, 4]
    assert result.device.startswith("cpu (float32)" if DEVICE == "cpu" else "cuda:")
    assert result.timings.inference_s > 0
    assert runner.describe().warm_adapters[model.pipeline.artifact_id] == (model.adapters[0].artifact_id,)


async def test_png_carries_provenance(runner: LocalDiffusersRunner, tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    adapter = model.adapters[1]
    task = make_task(model.pipeline, (adapter,), seed=41)

    result = await runner.submit(task)

    chunks = read_provenance(result.images[0].png)
    assert chunks["task_id"] == task.task_id
    assert chunks["pipeline"] == model.pipeline.artifact_id
    assert chunks["seed"] == "41"
    assert json.loads(chunks["adapters"]) == [
        {"id": adapter.artifact_id, "sha256": adapter.sha256, "scale": 1.0, "always_on": False}
    ]


async def test_seeds_reproduce_across_runs_and_batches(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet
) -> None:
    pipeline = tiny_models[ModelFamily.SD1].pipeline
    three = await runner.submit(make_task(pipeline, seed=100, num_images=3))
    again = await runner.submit(make_task(pipeline, seed=100, num_images=3))
    second_alone = await runner.submit(make_task(pipeline, seed=101))

    assert close(pixels(three, 0), pixels(again, 0))
    assert close(pixels(three, 1), pixels(second_alone, 0))
    assert not close(pixels(three, 0), pixels(three, 1))


async def test_sigmas_are_passed_as_given(runner: LocalDiffusersRunner, tiny_models: TinyModelSet) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    turbo_sigmas = (0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05)
    events: list[ProgressEvent] = []
    turbo = make_task(model.pipeline, steps=8, guidance=2.5, sigmas=turbo_sigmas)
    plain = make_task(model.pipeline, steps=8, guidance=2.5)

    turbo_result = await runner.submit(turbo, events.append)
    scheduler_sigmas = runner.cache.warm()[0].pipe.scheduler.sigmas.tolist()
    plain_result = await runner.submit(plain)

    assert scheduler_sigmas[:8] == pytest.approx(turbo_sigmas)
    assert len(events) == 8
    assert not close(pixels(turbo_result), pixels(plain_result))


async def test_negative_prompt_is_refused_where_the_family_has_none(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet
) -> None:
    from runners.errors import TaskValidationError

    sd = await runner.submit(make_task(tiny_models[ModelFamily.SD1].pipeline, negative_prompt="blurry"))
    assert len(sd.images) == 1
    with pytest.raises(TaskValidationError, match="takes no negative_prompt"):
        await runner.submit(make_task(tiny_models[ModelFamily.FLUX2].pipeline, negative_prompt="blurry"))


async def test_a_loaded_pipeline_keeps_its_class_and_runs_on_the_runners_device(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet
) -> None:
    from diffusers import FluxPipeline

    pipeline = tiny_models[ModelFamily.FLUX1].pipeline
    warm, _ = runner.cache.get(make_task(pipeline))

    assert isinstance(warm.pipe, FluxPipeline)
    assert type(warm.pipe).__name__ == "FluxPipeline"
    assert warm.pipe._execution_device == runner.placement.device
