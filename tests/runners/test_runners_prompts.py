"""Prompt embeddings: the runner hands pipelines embeddings of each distinct text, encoded once and
kept per warm pipeline, and the images are those the pipeline makes from the prompts themselves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.local.execution import BatchMember, run_batch
from runners.local.families import traits_of
from runners.task import GenerationTask, ModelFamily
from runners.tiny import TINY_FAMILIES, TinyModelSet
from tests.runners.support_runner_tasks import (
    DEVICE,
    close,
    make_task,
    pixels,
    sd1_lora_reaching_the_text_encoder,
)


def _member(task: GenerationTask) -> BatchMember:
    return BatchMember(task=task, is_canceled=lambda: False, on_step=lambda step, total: None)


def _array(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.float32)


@pytest.mark.parametrize("family", TINY_FAMILIES, ids=lambda f: f.value)
async def test_images_match_the_pipeline_given_the_prompts_themselves(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet, family: ModelFamily
) -> None:
    """Distinct and repeated prompts in one call, with classifier-free guidance where the family
    runs it (SD 1.x with a negative prompt, FLUX.2 [klein] with its "")."""
    model = tiny_models[family]
    negative = "blurry" if family is ModelFamily.SD1 else ""
    tasks = [
        make_task(model.pipeline, seed=3, num_images=2, negative_prompt=negative),
        make_task(model.pipeline, prompt="a red fox", seed=9, negative_prompt=negative),
    ]
    warm, _ = runner.cache.get(tasks[0])
    traits = traits_of(family)

    grouped = run_batch(warm.pipe, traits, [_member(t) for t in tasks], warm.embeddings)

    prompts = ["a lighthouse at dusk", "a lighthouse at dusk", "a red fox"]
    kwargs: dict[str, Any] = {"negative_prompt": [negative] * 3} if traits.negative_prompt else {}
    with torch.inference_mode():
        reference = warm.pipe(
            prompt=prompts,
            width=32,
            height=32,
            num_inference_steps=4,
            guidance_scale=3.5,
            generator=[torch.Generator().manual_seed(seed) for seed in (3, 4, 9)],
            **kwargs,
        ).images
    ours = [image for images in grouped for image in images]
    assert all(close(_array(a), _array(b)) for a, b in zip(ours, reference, strict=True))
    guided = traits.conditioning.needs_unconditional(warm.pipe, 3.5)
    assert guided is (family in (ModelFamily.SD1, ModelFamily.FLUX2_KLEIN))
    assert warm.embeddings.encoded == 2 + (1 if guided else 0)


async def test_a_text_is_encoded_once_per_warm_pipeline(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet
) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    first = await runner.submit(make_task(model.pipeline, num_images=3))
    embeddings = runner.cache.warm()[0].embeddings
    assert (embeddings.encoded, embeddings.hits) == (1, 0)

    again = await runner.submit(make_task(model.pipeline, (model.adapters[0],)))
    other = await runner.submit(make_task(model.pipeline, prompt="a red fox"))

    assert (embeddings.encoded, embeddings.hits) == (2, 1)
    assert close(pixels(first, 0), pixels(await runner.submit(make_task(model.pipeline)), 0))
    assert not close(pixels(again), pixels(other))


async def test_the_cache_stays_within_its_bytes(tiny_models: TinyModelSet) -> None:
    from runners.local.device import choose_placement

    model = tiny_models[ModelFamily.FLUX1]
    row_bytes = (512 * 32 + 32) * choose_placement(DEVICE).dtype.itemsize  # T5 states, pooled CLIP
    runner = LocalDiffusersRunner(
        LocalRunnerSettings(device=DEVICE, max_wait_s=0.0, prompt_cache_bytes=3 * row_bytes + row_bytes // 2)
    )
    try:
        for word in ("one", "two", "three", "four", "one"):
            await runner.submit(make_task(model.pipeline, prompt=word))
        embeddings = runner.cache.warm()[0].embeddings
        assert (embeddings.encoded, embeddings.hits, embeddings.nbytes) == (5, 0, 3 * row_bytes)
    finally:
        await runner.close()


async def test_embeddings_are_kept_apart_per_text_encoder_adapter(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    model = tiny_models[ModelFamily.SD1]
    text_lora = sd1_lora_reaching_the_text_encoder(tiny_models, tmp_path / "text-lora")
    unet_lora = model.adapters[0]

    plain = await runner.submit(make_task(model.pipeline))
    warm = runner.cache.warm()[0]
    await runner.submit(make_task(model.pipeline, (unet_lora,)))
    assert warm.adapters.active_beyond("unet") == ()
    styled = await runner.submit(make_task(model.pipeline, (text_lora,)))
    assert [key[0] for key, _ in warm.adapters.active_beyond("unet")] == ["sd-text-lora"]
    plain_again = await runner.submit(make_task(model.pipeline))

    # "a lighthouse at dusk" and "" once with no text-encoder adapter, once with the text LoRA
    assert warm.embeddings.encoded == 4
    assert close(pixels(plain), pixels(plain_again))
    fresh = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_wait_s=0.0, prompt_cache_bytes=0))
    try:
        uncached = await fresh.submit(make_task(model.pipeline, (text_lora,)))
    finally:
        await fresh.close()
    assert close(pixels(styled), pixels(uncached))
