"""The built-in catalog shipped in the package (`registry/builtin/*.yaml`): real licenses and models."""

from __future__ import annotations

from pathlib import Path

from registry.catalog.entries import Catalog
from registry.catalog.files import SourcedCatalog, read_catalog_files
from registry.catalog.validation import validate_catalog

BUILTIN_DIR = Path(__file__).resolve().parents[1] / "builtin"


def builtin_catalog_paths() -> list[Path]:
    """The built-in YAML files, in a stable order (file names decide it)."""
    return sorted(BUILTIN_DIR.glob("*.yaml"))


def read_builtin_catalog() -> SourcedCatalog:
    """The built-in catalog with the file of each entry, validated on its own."""
    sourced = read_catalog_files(builtin_catalog_paths())
    validate_catalog(sourced)
    return sourced


def load_builtin_catalog() -> Catalog:
    """The built-in catalog, merged from its files and validated (`CatalogError` if it is broken)."""
    return read_builtin_catalog().catalog
