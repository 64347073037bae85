"""Task builders shared by the runner tests."""

from __future__ import annotations

import io
import itertools
import os

import numpy as np
from PIL import Image

from runners.task import AdapterSpec, GenerationResult, GenerationTask, PipelineSpec

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
