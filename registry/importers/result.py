"""What an import produces: one catalog entry, plus what a person needs to review it."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from registry.catalog.entries import Artifact, Catalog
from registry.importers.errors import SourceFormatError


class ImportResult(msgspec.Struct, frozen=True, kw_only=True):
    artifact: Artifact
    origin: str
    """Where the entry was read from (`hub https://...`, `local /path`, `civitai <url or file>`)."""
    license_chain: tuple[str, ...]
    """The artifact's own license followed by its bases' (transitively): what the effective
    license combines. The policy engine makes the decision; this is for display."""

    @property
    def fragment(self) -> Catalog:
        """The catalog fragment to persist (one artifact; its bases and licenses already exist)."""
        return Catalog(artifacts=(self.artifact,))


def validated_artifact(fields: Mapping[str, object], *, where: str) -> Artifact:
    """Build the entry through msgspec's decoder, so every constraint (id pattern, ranges, enums)
    is checked as for a catalog file."""
    try:
        return msgspec.convert(fields, Artifact)
    except msgspec.ValidationError as exc:
        raise SourceFormatError(f"{where}: the imported entry is invalid: {exc}") from exc
