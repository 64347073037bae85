"""A provider's PNG is checked and stripped at the chunk level instead of decoded and encoded
again: what arrives must still be a complete image of the size its header says, and nothing but
its pixels (and how to draw them) may pass through."""

from __future__ import annotations

import io
import zlib

import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from runners.errors import ProviderError
from runners.png import PNG_SIGNATURE, PngError, chunk, chunks, clean_png, with_text
from runners.provenance import read_provenance
from runners.remote.images import accept_image

LIMIT = 64 * 2**20


def png_of(image: Image.Image, **save: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", **save)
    return buffer.getvalue()


def pixels(png: bytes) -> tuple[str, tuple[int, int], bytes]:
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        return image.mode, image.size, image.tobytes()


def assemble(parts: list[tuple[bytes, bytes]]) -> bytes:
    return PNG_SIGNATURE + b"".join(chunk(kind, data) for kind, data in parts)


def header(width: int, height: int, depth: int = 8, colour: int = 2, interlace: int = 0) -> bytes:
    return width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([depth, colour, 0, 0, interlace])


def gradient(mode: str, size: tuple[int, int] = (13, 7)) -> Image.Image:
    image = Image.linear_gradient("L").resize(size)
    if mode == "1":
        return image.convert("1")
    if mode == "P":
        return image.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=7)
    if mode == "I;16":
        return image.convert("I").point(lambda v: v * 200).convert("I;16")
    return image.convert(mode)


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_every_kind_of_png_passes_with_the_same_pixels(mode: str) -> None:
    original = png_of(gradient(mode))
    cleaned = with_text(clean_png(original, max_pixels=LIMIT), {"k": "v"})
    assert pixels(cleaned) == pixels(original)


def test_what_the_provider_embedded_is_dropped_and_ours_added() -> None:
    info = PngInfo()
    info.add_text("prompt", "someone else's secret")
    info.add_itxt("clearance:seed", "forged")
    original = png_of(gradient("RGB"), pnginfo=info, exif=b"Exif\0\0MM\0*\0\0\0\x08\0\0")
    parts = [(kind, data) for kind, data, _ in chunks(original)]
    private = assemble([*parts[:1], (b"prVt", b"tracking id"), *parts[1:]]) + b"trailing bytes"

    stored = accept_image(private, {"seed": "7", "task_id": "t1"}, max_pixels=LIMIT, what="image 0")

    kinds = [kind for kind, _, _ in chunks(stored)]
    assert not {b"prVt", b"eXIf", b"tEXt"} & set(kinds)
    assert read_provenance(stored) == {"seed": "7", "task_id": "t1"}
    assert not stored.endswith(b"trailing bytes")
    assert pixels(stored) == pixels(original)


def test_jpeg_is_still_decoded_and_stored_as_png() -> None:
    buffer = io.BytesIO()
    gradient("RGB").save(buffer, format="JPEG")
    stored = accept_image(buffer.getvalue(), {"seed": "1"}, max_pixels=LIMIT, what="image 0")
    assert stored.startswith(PNG_SIGNATURE)
    assert read_provenance(stored) == {"seed": "1"}


@pytest.mark.parametrize(("width", "height"), [(1, 1), (3, 5), (8, 8), (13, 7), (2, 17)])
def test_interlaced_sizes_agree_with_pillow(width: int, height: int) -> None:
    # Build an Adam7 image by hand (Pillow does not write interlaced PNGs): all-zero rows whose
    # total length is what clean_png expects; Pillow must decode it, and one byte less must fail.
    from runners.png import _raw_size

    raw = bytes(_raw_size(width, height, 24, interlaced=True))
    image = assemble(
        [(b"IHDR", header(width, height, interlace=1)), (b"IDAT", zlib.compress(raw)), (b"IEND", b"")]
    )
    clean_png(image, max_pixels=LIMIT)
    assert pixels(image)[1] == (width, height)
    short = assemble(
        [(b"IHDR", header(width, height, interlace=1)), (b"IDAT", zlib.compress(raw[:-1])), (b"IEND", b"")]
    )
    with pytest.raises(PngError, match="incomplete"):
        clean_png(short, max_pixels=LIMIT)


def rows(width: int, height: int, extra: int = 0) -> bytes:
    return zlib.compress(bytes(height * (1 + 3 * width) + extra))


@pytest.mark.parametrize(
    ("parts", "message"),
    [
        ([(b"IHDR", header(4, 4)), (b"IDAT", rows(4, 4)[:-6]), (b"IEND", b"")], "incomplete"),
        ([(b"IHDR", header(4, 4)), (b"IDAT", rows(4, 3)), (b"IEND", b"")], "incomplete"),
        ([(b"IHDR", header(4, 4)), (b"IDAT", rows(4, 4, extra=1)), (b"IEND", b"")], "more than its header"),
        ([(b"IHDR", header(4, 4)), (b"IDAT", b"not zlib"), (b"IEND", b"")], "does not inflate"),
        ([(b"IHDR", header(100_000, 100_000)), (b"IDAT", rows(1, 1)), (b"IEND", b"")], "exceeds"),
        ([(b"IHDR", header(4, 4, depth=3)), (b"IDAT", rows(4, 4)), (b"IEND", b"")], "bit depth"),
        ([(b"IHDR", header(4, 4, colour=3)), (b"IDAT", rows(4, 4)), (b"IEND", b"")], "without a palette"),
        ([(b"IHDR", header(4, 4)), (b"IEND", b"")], "IHDR first and image data"),
        ([(b"IHDR", header(4, 4)), (b"IDAT", rows(4, 4))], "before IEND"),
    ],
    ids=["truncated", "short", "long", "not-zlib", "bomb", "depth", "palette", "no-idat", "no-iend"],
)
def test_inconsistent_pngs_are_refused_precisely(parts: list[tuple[bytes, bytes]], message: str) -> None:
    with pytest.raises(ProviderError, match=message):
        accept_image(assemble(parts), {}, max_pixels=2**20, what="image 0")


def test_a_corrupt_crc_is_refused() -> None:
    good = bytearray(png_of(gradient("RGB")))
    good[40] ^= 0xFF
    with pytest.raises(PngError, match="truncated or corrupt"):
        clean_png(bytes(good), max_pixels=LIMIT)


def test_chunks_written_again_keep_the_crc_they_were_read_with() -> None:
    original = png_of(gradient("RGBA"))
    parsed = chunks(original)
    assert all(crc == zlib.crc32(data, zlib.crc32(kind)) for kind, data, crc in parsed)
    # Nothing to add or drop: the PNG comes back byte for byte.
    assert with_text(parsed, {}) == PNG_SIGNATURE + b"".join(chunk(kind, data) for kind, data, _ in parsed)
    assert with_text(parsed, {}) == original[: original.index(b"IEND") + 8]
