"""What accepting one provider image costs: the chunk-level check the remote runners use now
(`runners.remote.images.accept_image`) beside decoding and encoding the PNG again, as they did
before, on a 1024x1024 photo-like PNG (gradients and noise). CPU time, median of 7."""

from __future__ import annotations

import io
import statistics
import time
from collections.abc import Callable

import numpy as np
from PIL import Image

from runners.provenance import encode_png
from runners.remote.images import accept_image, decode_image

SIZE = 1024
CHUNKS = {"task_id": "bench", "seed": "1"}


def photo_like_png(size: int = SIZE) -> bytes:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size]
    gradients = np.stack([(x / 4) % 256, (y / 4) % 256, ((x + y) / 8) % 256], -1)
    pixels = gradients + rng.normal(0, 6, (size, size, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype("uint8")).save(buffer, format="PNG")
    return buffer.getvalue()


def _cpu_ms(call: Callable[[], object], runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        started = time.process_time()
        call()
        times.append(time.process_time() - started)
    return statistics.median(times) * 1000


def report() -> None:
    png = photo_like_png()
    limit = 2**26
    chunk_level = _cpu_ms(lambda: accept_image(png, CHUNKS, max_pixels=limit, what="bench"))
    reencoded = _cpu_ms(lambda: encode_png(decode_image(png, max_pixels=limit, what="bench"), CHUNKS))
    print(
        f"provider image {SIZE}x{SIZE} ({len(png) / 1e6:.1f} MB PNG), CPU per image: checked at the chunk "
        f"level {chunk_level:.1f} ms, decoded and encoded again (before) {reencoded:.1f} ms "
        f"({reencoded / chunk_level:.0f}x)"
    )
