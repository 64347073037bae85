"""Task builders shared by the runner tests."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from runners.task import AdapterSpec, GenerationResult, GenerationTask, LocalSource, ModelFamily, PipelineSpec
from runners.tiny import TinyModelSet, file_sha256

_ids = itertools.count()

DEVICE = os.environ.get("CLEARANCE_TEST_DEVICE", "cpu")
"""Where the runner tests run: `cpu` (the default, and CI), or `auto`/`cuda` on a GPU host."""


def make_task(
    pipeline: PipelineSpec, adapters: tuple[AdapterSpec, ...] = (), **overrides: object
) -> GenerationTask:
    fields: dict[str, object] = {
        "task_id": f"task-{next(_ids)}",
        "pipeline": pipeline,
        "adapters": adapters,
        "prompt": "a lighthouse at dusk",
        "width": 32,
        "height": 32,
        "steps": 4,
        "guidance": 3.5,
        "seed": 7,
    }
    fields.update(overrides)
    return GenerationTask(**fields)  # type: ignore[arg-type]


def pixels(result: GenerationResult, index: int = 0) -> np.ndarray:
    with Image.open(io.BytesIO(result.images[index].png)) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32)


def close(a: np.ndarray, b: np.ndarray, atol: float = 2.0) -> bool:
    """Pixels within a couple of levels: batching and thread counts change the last float bits."""
    return bool(np.abs(a - b).max() <= atol)


def sd1_lora_reaching_the_text_encoder(models: TinyModelSet, directory: Path) -> AdapterSpec:
    """A LoRA with layers in SD 1.x's UNet and in its text encoder."""
    from diffusers import StableDiffusionPipeline
    from peft import LoraConfig, get_peft_model_state_dict, inject_adapter_in_model

    pipe = StableDiffusionPipeline.from_pretrained(models[ModelFamily.SD1].path)
    layers: dict[str, dict[str, torch.Tensor]] = {}
    generator = torch.Generator().manual_seed(5)
    for name, module, targets in (
        ("unet", pipe.unet, ["to_q", "to_v"]),
        ("text_encoder", pipe.text_encoder, ["q_proj", "v_proj"]),
    ):
        config = LoraConfig(r=4, lora_alpha=4, target_modules=targets, init_lora_weights=False)
        inject_adapter_in_model(config, module)
        with torch.no_grad():
            for parameter_name, parameter in module.named_parameters():
                if "lora_" in parameter_name:
                    parameter.copy_(torch.randn(parameter.shape, generator=generator) * 2.0)
        layers[f"{name}_lora_layers"] = get_peft_model_state_dict(module)
    directory.mkdir()
    StableDiffusionPipeline.save_lora_weights(directory, safe_serialization=True, **layers)
    weight = "pytorch_lora_weights.safetensors"
    return AdapterSpec(
        artifact_id="sd-text-lora",
        source=LocalSource(path=str(directory)),
        weight_name=weight,
        sha256=file_sha256(directory / weight),
    )
