"""What an import produces: one catalog entry, plus what a person needs to review it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


CURATED_FIELDS = ("components", "always_on", "description", "family", "retired")
"""Fields a source cannot know (a text encoder bundled by the catalog, an adapter fused at load):
re-importing an entry the catalog already holds keeps them."""


def keep_curated_fields(fields: Mapping[str, Any], existing: Artifact | None) -> dict[str, Any]:
    """`fields` of a fresh import, completed with what the catalog's current entry says and the
    import does not: curated fields, and recommended settings the card no longer states."""
    merged = {k: v for k, v in fields.items() if v is not None}
    if existing is None:
        return merged
    current = msgspec.to_builtins(existing)
    merged["name"] = current["name"]  # a curated display name beats the repo's name
    for name in CURATED_FIELDS:
        if name in current and not merged.get(name):
            merged[name] = current[name]
    if "recommended" in current:
        merged["recommended"] = {**current["recommended"], **(merged.get("recommended") or {})}
    return merged


def validated_artifact(fields: Mapping[str, object], *, where: str) -> Artifact:
    """Build the entry through msgspec's decoder, so every constraint (id pattern, ranges, enums)
    is checked as for a catalog file."""
    try:
        return msgspec.convert(fields, Artifact)
    except msgspec.ValidationError as exc:
        raise SourceFormatError(f"{where}: the imported entry is invalid: {exc}") from exc
