"""PNG at the chunk level: read and write chunks with their CRCs, add text chunks, and accept a
PNG from outside (a provider) without decoding and encoding it again.

Re-encoding an image costs more than everything else a provider request does (zlib at its
default level over every row), and adding a text chunk does not need it. A foreign PNG is
instead checked chunk by chunk (`clean_png`): every CRC, the header's size against a pixel
budget, and the image data inflated once, bounded by the size the header implies, so a truncated
stream, trailing pixels or a decompression bomb are refused just as decoding refused them. Only
the chunks that say how to draw the pixels are kept; text, EXIF and any private chunk the
sender embedded are dropped.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})
KEPT_CHUNKS = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT", b"pHYs"}
)
"""What `clean_png` keeps: the critical chunks and those that change how the pixels look."""

_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
"""Samples per pixel by colour type (grey, RGB, palette, grey+alpha, RGBA)."""
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2))
"""Interlace passes: (x start, y start, x step, y step)."""


class PngError(ValueError):
    """Bytes that are not a complete, consistent PNG (or one too large); the message says why."""


Chunk = tuple[bytes, bytes, int]
"""A chunk as read: type, data and CRC (checked). Written again it needs no second CRC over its
data, which for a provider's image is megabytes of IDAT (2.6 GB/s here, about 0.8 ms per 2 MB
image for each pass). A plain tuple: a NamedTuple's constructor cost more than the CRC of a
small chunk."""


def chunks(png: bytes) -> list[Chunk]:
    """Each chunk from IHDR to IEND, every CRC checked; bytes after IEND are ignored. PngError
    for anything else."""
    if not png.startswith(PNG_SIGNATURE):
        raise PngError("expected a PNG image (no PNG signature)")
    found: list[Chunk] = []
    position = len(PNG_SIGNATURE)
    while not found or found[-1][0] != b"IEND":
        if position + 12 > len(png):
            raise PngError("the PNG ends inside a chunk or before IEND")
        length = int.from_bytes(png[position : position + 4], "big")
        kind = png[position + 4 : position + 8]
        end = position + 12 + length
        data = png[position + 8 : end - 4]
        crc = int.from_bytes(png[end - 4 : end], "big")
        if end > len(png) or zlib.crc32(data, zlib.crc32(kind)) != crc:
            raise PngError(f"chunk {kind!r} is truncated or corrupt")
        found.append((kind, data, crc))
        position = end
    if found[0][0] != b"IHDR" or not any(kind == b"IDAT" for kind, _, _ in found):
        raise PngError("a PNG needs IHDR first and image data")
    return found


def chunk(kind: bytes, data: bytes, crc: int | None = None) -> bytes:
    """The chunk's bytes; its CRC computed unless given (one already checked)."""
    if crc is None:
        crc = zlib.crc32(data, zlib.crc32(kind))  # no `kind + data` copy of the (maybe large) data
    return b"".join((len(data).to_bytes(4, "big"), kind, data, crc.to_bytes(4, "big")))


def itxt(keyword: str, text: str) -> bytes:
    """Uncompressed international text: keyword, NUL, flag 0, method 0, empty language tag and
    translated keyword (each NUL-terminated), UTF-8 text."""
    return keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode()


def with_text(parsed: Iterable[Chunk], text: dict[str, str]) -> bytes:
    """The PNG of `parsed` chunks with `text` as iTXt chunks, placed before the image data
    where readers look first; an existing text chunk with one of the same keywords is dropped.
    The parsed chunks keep the CRCs they were read (and checked) with."""
    replaced = {keyword.encode("latin-1") for keyword in text}
    out = [PNG_SIGNATURE]
    pending = text
    for kind, data, crc in parsed:
        if kind in TEXT_CHUNKS and data.split(b"\0", 1)[0] in replaced:
            continue
        if kind == b"IDAT" and pending:
            out += [chunk(b"iTXt", itxt(keyword, value)) for keyword, value in pending.items()]
            pending = {}
        out.append(chunk(kind, data, crc))
    return b"".join(out)


def clean_png(png: bytes, *, max_pixels: int) -> list[Chunk]:
    """The chunks of a foreign PNG worth keeping (`KEPT_CHUNKS`), once it is known complete and
    within `max_pixels`: PngError otherwise. The header is checked before anything is inflated,
    and inflating stops at the size the header implies."""
    parsed = chunks(png)
    width, height, depth, colour, interlaced = _header(parsed[0][1])
    if width * height > max_pixels:
        raise PngError(f"{width}x{height} exceeds {max_pixels} pixels")
    if colour == 3 and not any(kind == b"PLTE" for kind, _, _ in parsed):
        raise PngError("a palette image without a palette")
    expected = _raw_size(width, height, depth * _CHANNELS[colour], interlaced)
    inflater = zlib.decompressobj()
    inflated = 0
    try:
        for kind, data, _ in parsed:
            if kind == b"IDAT":
                inflated += len(inflater.decompress(data, expected + 1 - inflated))
                if inflated > expected or inflater.unconsumed_tail:
                    raise PngError("the image data holds more than its header says")
        inflated += len(inflater.flush())
    except zlib.error as exc:
        raise PngError(f"the image data does not inflate ({exc})") from exc
    if not inflater.eof or inflated != expected:
        raise PngError(f"the image data is incomplete ({inflated} of {expected} bytes)")
    return [c for c in parsed if c[0] in KEPT_CHUNKS]


def _header(data: bytes) -> tuple[int, int, int, int, bool]:
    if len(data) != 13:
        raise PngError("IHDR is not 13 bytes")
    width = int.from_bytes(data[0:4], "big")
    height = int.from_bytes(data[4:8], "big")
    depth, colour, compression, filtering, interlace = data[8:13]
    if not width or not height:
        raise PngError(f"{width}x{height} is not an image size")
    if depth not in _DEPTHS.get(colour, ()):
        raise PngError(f"bit depth {depth} with colour type {colour} is not a PNG")
    if compression or filtering or interlace > 1:
        raise PngError("unknown compression, filter or interlace method")
    return width, height, depth, colour, interlace == 1


def _raw_size(width: int, height: int, bits_per_pixel: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines (one filter byte per row) the image data inflates to."""
    if not interlaced:
        return height * (1 + (width * bits_per_pixel + 7) // 8)
    total = 0
    for x0, y0, dx, dy in _ADAM7:
        columns = (width - x0 + dx - 1) // dx if width > x0 else 0
        rows = (height - y0 + dy - 1) // dy if height > y0 else 0
        if columns and rows:
            total += rows * (1 + (columns * bits_per_pixel + 7) // 8)
    return total
