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
from xml.sax.saxutils import escape

import msgspec
from PIL import Image

from runners.png import PngError, chunks, with_text

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

    Written at the chunk level (`runners.png`): the pixel data is copied as it is, never decoded
    and compressed again (Pillow can add text only by re-encoding the whole image, which for a
    1024x1024 image costs more than the rest of the request). Every chunk's CRC is checked on
    the way."""
    ours = {
        PROVENANCE_KEY: msgspec.json.encode(provenance).decode(),
        XMP_KEY: _xmp_packet(provenance),
        "DigitalSourceType": provenance.digital_source_type,
        "AI-Generated": "true" if provenance.ai_generated else "false",
        "Software": provenance.generator,
        "Description": _description(provenance),
    }
    try:
        return with_text(chunks(png), ours)
    except PngError as exc:
        raise ProvenanceError(f"not a readable image: {exc}") from exc


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
