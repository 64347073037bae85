"""Generated images, per tenant, with provenance in the PNG itself: on the local filesystem
(`ImageStore`) or in an object store (`objects.ObjectImageStore`)."""

from gateway.storage.images import (
    ImageBackend,
    ImageNotFoundError,
    ImageStore,
    ImageStoreError,
    ImageToSave,
    StoredImage,
    UnsafePathError,
)
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
    "ImageBackend",
    "ImageNotFoundError",
    "ImageStore",
    "ImageStoreError",
    "ImageToSave",
    "Provenance",
    "StoredImage",
    "UnsafePathError",
    "read_provenance",
    "with_provenance",
]
