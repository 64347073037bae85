"""What differs between pipeline families: the diffusers class (never taken from the weights'
own `model_index.json`, so data cannot choose code), the denoiser that LoRAs attach to, the
call arguments each family takes and how it takes prompt embeddings."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from runners.errors import UnsupportedFamilyError
from runners.local.prompts import (
    Flux1Conditioning,
    Flux2Conditioning,
    SD1Conditioning,
    TextConditioning,
)
from runners.task import ModelFamily


@dataclass(frozen=True)
class FamilyTraits:
    family: ModelFamily
    pipeline_class: str
    denoiser: str
    negative_prompt: bool
    """Whether the pipeline takes a negative prompt as a plain argument."""
    conditioning: TextConditioning
    guidance_in_one_batch: bool = False
    """Whether classifier-free guidance runs the unconditional rows in the denoiser's batch, in
    front of the conditional ones (SD 1.x), rather than in a call of their own (FLUX.2 [klein])."""

    def load_class(self) -> Any:
        return getattr(importlib.import_module("diffusers"), self.pipeline_class)


FAMILIES: dict[ModelFamily, FamilyTraits] = {
    traits.family: traits
    for traits in (
        FamilyTraits(
            ModelFamily.SD1,
            "StableDiffusionPipeline",
            "unet",
            negative_prompt=True,
            conditioning=SD1Conditioning(),
            guidance_in_one_batch=True,
        ),
        FamilyTraits(
            ModelFamily.FLUX1,
            "FluxPipeline",
            "transformer",
            negative_prompt=False,
            conditioning=Flux1Conditioning(),
        ),
        FamilyTraits(
            ModelFamily.FLUX2,
            "Flux2Pipeline",
            "transformer",
            negative_prompt=False,
            conditioning=Flux2Conditioning(guided=False),
        ),
        FamilyTraits(
            ModelFamily.FLUX2_KLEIN,
            "Flux2KleinPipeline",
            "transformer",
            negative_prompt=False,
            conditioning=Flux2Conditioning(guided=True),
        ),
    )
}


def traits_of(family: ModelFamily) -> FamilyTraits:
    traits = FAMILIES.get(family)
    if traits is None:
        raise UnsupportedFamilyError(f"family {family.value!r} is not served by the local diffusers runner")
    return traits
