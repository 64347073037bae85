"""PNG text chunks that say how an image was made, so a file can be traced back to its pipeline,
adapters (with hashes), seed and task. The gateway adds license ids later in the same way."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from runners.task import GenerationTask

CHUNK_PREFIX = "clearance:"


def provenance_chunks(task: GenerationTask, seed: int, device: str) -> dict[str, str]:
    return {
        "task_id": task.task_id,
        "pipeline": task.pipeline.artifact_id,
        "family": task.pipeline.family.value,
        "adapters": json.dumps(
            [
                {"id": a.artifact_id, "sha256": a.sha256, "scale": a.scale, "always_on": a.always_on}
                for a in task.adapters
            ],
            separators=(",", ":"),
        ),
        "seed": str(seed),
        "steps": str(task.steps),
        "guidance": repr(task.guidance),
        "sigmas": json.dumps(list(task.sigmas)) if task.sigmas is not None else "",
        "size": f"{task.width}x{task.height}",
        "device": device,
    }


def encode_png(image: Image.Image, chunks: Mapping[str, str]) -> bytes:
    info = PngInfo()
    for key, value in chunks.items():
        info.add_itxt(CHUNK_PREFIX + key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()


def read_provenance(png: bytes) -> dict[str, str]:
    with Image.open(io.BytesIO(png)) as image:
        text = dict(getattr(image, "text", {}))
    return {
        key.removeprefix(CHUNK_PREFIX): value for key, value in text.items() if key.startswith(CHUNK_PREFIX)
    }
