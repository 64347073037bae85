"""A provider's bytes are accepted only when they are a real image of a sane size, and leave as a
PNG carrying our provenance chunks and nothing the provider embedded: a PNG is checked and
stripped at the chunk level (`runners.png.clean_png`; its pixels are inflated once to check them,
never re-encoded), a JPEG or WebP is decoded and encoded as PNG."""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image

from runners.errors import ProviderError
from runners.png import PNG_SIGNATURE, PngError, clean_png, with_text
from runners.provenance import CHUNK_PREFIX, encode_png

ACCEPTED_FORMATS = frozenset({"PNG", "JPEG", "WEBP"})


def accept_image(data: bytes, chunks: dict[str, str], *, max_pixels: int, what: str) -> bytes:
    """The provider's image as a PNG holding `chunks` (our provenance, keys prefixed like
    `runners.provenance.encode_png`'s); ProviderError when it is not a valid image within
    `max_pixels`."""
    text = {CHUNK_PREFIX + key: value for key, value in chunks.items()}
    if data.startswith(PNG_SIGNATURE):
        try:
            return with_text(clean_png(data, max_pixels=max_pixels), text)
        except PngError as exc:
            raise ProviderError(f"{what}: not a valid image ({exc})") from exc
    return encode_png(decode_image(data, max_pixels=max_pixels, what=what), chunks)


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
