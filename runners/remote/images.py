"""A provider's bytes are accepted only when they are a real image of a sane size; they are then
re-encoded as PNG with our provenance chunks, so nothing the provider embedded passes through."""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image

from runners.errors import ProviderError

ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})


def decode_image(data: bytes, *, max_pixels: int, what: str) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                image_format = probe.format
                width, height = probe.size
                probe.verify()
            if image_format not in ACCEPTED_FORMATS:
                raise ProviderError(
                    f"{what}: a {image_format} image; expected one of {sorted(ACCEPTED_FORMATS)}"
                )
            if width * height > max_pixels:
                raise ProviderError(f"{what}: {width}x{height} exceeds {max_pixels} pixels")
            image = Image.open(io.BytesIO(data))
            image.load()
    except (
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as exc:
        raise ProviderError(f"{what}: not a valid image ({exc})") from exc
    return image.convert("RGBA" if image.mode in ("RGBA", "LA", "P") else "RGB")


def decode_base64(text: str, what: str) -> bytes:
    if text.startswith("data:"):
        _, _, text = text.partition(",")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProviderError(f"{what}: invalid base64 image data") from exc
