"""Provenance written into the PNG: what made the image, under which licenses, and that it is
AI-generated.

Three kinds of text chunks, so each reader finds what it understands:
- `clearance:provenance`: the full record as JSON (model, adapters, license keys and versions,
  decision id, seed, job id);
- an XMP packet (`XML:com.adobe.xmp`) with the IPTC digital source type
  `trainedAlgorithmicMedia`, the machine-readable AI-generated disclosure that image tools read;
- plain `DigitalSourceType`, `AI-Generated`, `Software` and `Description` for humans and simple
  tools.
Existing text chunks of the input are kept unless one of ours has the same keyword.
"""

from __future__ import annotations

import datetime as dt
import io
import zlib
from xml.sax.saxutils import escape

import msgspec
from PIL import Image

DIGITAL_SOURCE_TYPE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
PROVENANCE_KEY = "clearance:provenance"
XMP_KEY = "XML:com.adobe.xmp"


class ProvenanceError(ValueError):
    """An input that is not a PNG image, or provenance that cannot be read back."""


class ArtifactProvenance(msgspec.Struct, kw_only=True, frozen=True):
    artifact: str
    """The artifact id (`black-forest-labs/FLUX.2-dev@<revision>`)."""
    license: str
    """License reference `key@version`."""
    scale: float | None = None
    """The adapter scale; None for the base model."""


class Provenance(msgspec.Struct, kw_only=True, frozen=True):
    model: ArtifactProvenance
    adapters: tuple[ArtifactProvenance, ...] = ()
    decision_id: str
    job_id: str
    seed: int | None
    created_at: dt.datetime
    generator: str = "Clearance"
    ai_generated: bool = True
    digital_source_type: str = DIGITAL_SOURCE_TYPE


def _xmp_packet(provenance: Provenance) -> str:
    description = escape(_description(provenance))
    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/">'
        f"<Iptc4xmpExt:DigitalSourceType>{escape(provenance.digital_source_type)}</Iptc4xmpExt:DigitalSourceType>"
        f"<xmp:CreatorTool>{escape(provenance.generator)}</xmp:CreatorTool>"
        "<dc:description><rdf:Alt>"
        f'<rdf:li xml:lang="x-default">{description}</rdf:li>'
        "</rdf:Alt></dc:description>"
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="r"?>'
    )


def _description(provenance: Provenance) -> str:
    adapters = ", ".join(f"{a.artifact} ({a.license})" for a in provenance.adapters)
    text = f"AI-generated image. Model: {provenance.model.artifact} ({provenance.model.license})"
    return text + (f"; adapters: {adapters}" if adapters else "") + f"; decision {provenance.decision_id}"


def with_provenance(png: bytes, provenance: Provenance) -> bytes:
    """The PNG with our chunks added to (and overriding) its existing text chunks.

    Written at the chunk level: the pixel data is copied as it is, never decoded and compressed
    again (Pillow can add text only by re-encoding the whole image, which for a 1024x1024 image
    costs more than the rest of the request). Every chunk's CRC is checked on the way."""
    ours = {
        PROVENANCE_KEY: msgspec.json.encode(provenance).decode(),
        XMP_KEY: _xmp_packet(provenance),
        "DigitalSourceType": provenance.digital_source_type,
        "AI-Generated": "true" if provenance.ai_generated else "false",
        "Software": provenance.generator,
        "Description": _description(provenance),
    }
    replaced = {keyword.encode("latin-1") for keyword in ours}
    out = [PNG_SIGNATURE]
    for kind, data in _png_chunks(png):
        if kind in _TEXT_CHUNKS and data.split(b"\0", 1)[0] in replaced:
            continue
        if kind == b"IDAT" and ours:  # ours go before the image data, where readers look first
            out += [_chunk(b"iTXt", _itxt(keyword, value)) for keyword, value in ours.items()]
            ours = {}
        out.append(_chunk(kind, data))
    return b"".join(out)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_TEXT_CHUNKS = frozenset({b"tEXt", b"zTXt", b"iTXt"})


def _png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    """(type, data) of each chunk, from IHDR to IEND; ProvenanceError for anything else."""
    if not png.startswith(PNG_SIGNATURE):
        raise ProvenanceError("not a readable image: expected a PNG image (no PNG signature)")
    chunks: list[tuple[bytes, bytes]] = []
    position = len(PNG_SIGNATURE)
    while not chunks or chunks[-1][0] != b"IEND":
        if position + 12 > len(png):
            raise ProvenanceError("not a readable image: the PNG ends inside a chunk or before IEND")
        length = int.from_bytes(png[position : position + 4], "big")
        kind = png[position + 4 : position + 8]
        end = position + 12 + length
        data = png[position + 8 : end - 4]
        if end > len(png) or zlib.crc32(kind + data) != int.from_bytes(png[end - 4 : end], "big"):
            raise ProvenanceError(f"not a readable image: chunk {kind!r} is truncated or corrupt")
        chunks.append((kind, data))
        position = end
    if chunks[0][0] != b"IHDR" or not any(kind == b"IDAT" for kind, _ in chunks):
        raise ProvenanceError("not a readable image: a PNG needs IHDR first and image data")
    return chunks


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def _itxt(keyword: str, text: str) -> bytes:
    """Uncompressed international text: keyword, NUL, flag 0, method 0, empty language tag and
    translated keyword (each NUL-terminated), UTF-8 text."""
    return keyword.encode("latin-1") + b"\0\0\0\0\0" + text.encode()


def read_provenance(png: bytes) -> Provenance:
    image = Image.open(io.BytesIO(png))
    text = dict(getattr(image, "text", {}))
    raw = text.get(PROVENANCE_KEY)
    if not isinstance(raw, str):
        raise ProvenanceError(f"no {PROVENANCE_KEY} chunk in this PNG")
    try:
        return msgspec.json.decode(str(raw).encode(), type=Provenance)
    except msgspec.ValidationError as exc:
        raise ProvenanceError(f"{PROVENANCE_KEY} chunk: {exc}") from exc
