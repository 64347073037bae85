"""Generated images on the local filesystem, per tenant, with provenance in the PNG itself."""

from gateway.storage.images import ImageNotFoundError, ImageStore, ImageToSave, StoredImage, UnsafePathError
from gateway.storage.provenance import (
    DIGITAL_SOURCE_TYPE,
    ArtifactProvenance,
    Provenance,
    read_provenance,
    with_provenance,
)

__all__ = [
    "DIGITAL_SOURCE_TYPE",
    "ArtifactProvenance",
    "ImageNotFoundError",
    "ImageStore",
    "ImageToSave",
    "Provenance",
    "StoredImage",
    "UnsafePathError",
    "read_provenance",
    "with_provenance",
]
