"""One pipeline call for a batch of compatible tasks.

Each image gets its own CPU `torch.Generator` seeded with the task's seed + index, so an image
reproduces whatever batch it lands in and on whichever device (up to float rounding). Prompts are
handed over as embeddings, each distinct text encoded once (`prompts`). Progress is reported after
every denoising step; a batch whose tasks were all canceled stops between steps.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from PIL import Image

from runners.local.families import FamilyTraits
from runners.local.prompts import PromptEmbeddings
from runners.local.row_adapters import adapter_per_row
from runners.task import GenerationTask


class BatchCanceledError(Exception):
    """Raised from the step callback to leave the denoising loop at once."""


@dataclass
class BatchMember:
    task: GenerationTask
    is_canceled: Callable[[], bool]
    on_step: Callable[[int, int], None]
    """(1-based step, total steps)."""


def run_batch(
    pipe: Any,
    traits: FamilyTraits,
    members: list[BatchMember],
    embeddings: PromptEmbeddings | None = None,
    text_context: Hashable = (),
    adapter_per_member: Sequence[str] | None = None,
) -> list[list[Image.Image]]:
    """Generate every member's images in one call; images come back grouped per member.

    `embeddings` is the warm pipeline's cache (without one, texts repeated within the call are
    still encoded once); `text_context` names the active adapters that reach a text encoder.
    `adapter_per_member`, when given, names the resident adapter (`row_adapters.BASE_ROW` for none)
    each member's images go through in the denoiser, instead of every active adapter."""
    first = members[0].task
    if embeddings is None:
        embeddings = PromptEmbeddings(traits.conditioning, max_bytes=0)
    prompts: list[str] = []
    negatives: list[str] = []
    generators: list[torch.Generator] = []
    for member in members:
        for seed in member.task.image_seeds():
            prompts.append(member.task.prompt)
            negatives.append(member.task.negative_prompt)
            generators.append(torch.Generator(device="cpu").manual_seed(seed))

    def on_step_end(_pipe: Any, step: int, _timestep: Any, callback_kwargs: dict[str, Any]) -> dict[str, Any]:
        live = [m for m in members if not m.is_canceled()]
        if not live:
            raise BatchCanceledError
        for member in live:
            member.on_step(step + 1, first.steps)
        return callback_kwargs

    conditioning = embeddings.conditioning
    guided = conditioning.needs_unconditional(pipe, first.guidance)
    with torch.inference_mode():  # one encoder call for whatever is new, negatives included
        rows = embeddings.rows(pipe, prompts + negatives if guided else prompts, text_context)
    count = len(prompts)
    text_kwargs = conditioning.call_kwargs(rows[:count], rows[count:] if guided else None)
    kwargs: dict[str, Any] = {
        **text_kwargs,
        "width": first.width,
        "height": first.height,
        "num_inference_steps": first.steps,
        "guidance_scale": first.guidance,
        "generator": generators,
        "output_type": "pil",
        "callback_on_step_end": on_step_end,
    }
    if first.sigmas is not None:
        kwargs["sigmas"] = list(first.sigmas)
    routing: AbstractContextManager[None] = nullcontext()
    if adapter_per_member is not None:
        row_adapters = [
            name
            for member, name in zip(members, adapter_per_member, strict=True)
            for _ in range(member.task.num_images)
        ]
        if guided and traits.guidance_in_one_batch:
            row_adapters += row_adapters  # the unconditional half first, in the same order
        routing = adapter_per_row(getattr(pipe, traits.denoiser), row_adapters)
    with torch.inference_mode(), routing:
        images: list[Image.Image] = pipe(**kwargs).images
    grouped: list[list[Image.Image]] = []
    offset = 0
    for member in members:
        grouped.append(images[offset : offset + member.task.num_images])
        offset += member.task.num_images
    return grouped
