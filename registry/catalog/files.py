"""Catalog files: YAML decoded with msgspec into `Catalog`; several files merge into one.

The origin of each entry is kept alongside the merged catalog, so that validation can name the
file an error comes from.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from registry.catalog.entries import Catalog
from registry.catalog.errors import (
    SECTIONS,
    CatalogError,
    CatalogIssue,
    entry_label,
    split_validation_error,
)


class SourcedCatalog(msgspec.Struct, frozen=True, kw_only=True):
    """A catalog with the file each entry was read from (`origins[section][index]`)."""

    catalog: Catalog
    origins: Mapping[str, tuple[str, ...]]

    def file_of(self, section: str, index: int = 0) -> str | None:
        files = self.origins.get(section, ())
        return files[index] if index < len(files) else None


def parse_catalog(text: bytes | str, *, file: str) -> Catalog:
    """One catalog file's content; a precise `CatalogError` naming `file` when it does not fit."""
    data = text.encode() if isinstance(text, str) else text
    if not data.strip():
        return Catalog()
    try:
        return msgspec.yaml.decode(data, type=Catalog)
    except msgspec.ValidationError as exc:
        raise CatalogError([_locate(exc, data, file)]) from exc
    except (msgspec.DecodeError, yaml.YAMLError, ValueError) as exc:
        # PyYAML raises a bare ValueError for impossible dates such as 2026-13-01.
        raise CatalogError(
            [CatalogIssue(file=file, entry="file", field="", message=f"not valid YAML: {exc}")]
        ) from exc


def read_catalog_file(path: Path | str) -> Catalog:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogError(
            [CatalogIssue(file=str(path), entry="file", field="", message=f"cannot be read: {exc.strerror}")]
        ) from exc
    return parse_catalog(data, file=str(path))


def read_catalog_files(paths: Iterable[Path | str]) -> SourcedCatalog:
    """Read and merge several files; every file is read so that all decoding errors are reported."""
    parts: list[tuple[str, Catalog]] = []
    issues: list[CatalogIssue] = []
    for path in paths:
        try:
            parts.append((str(path), read_catalog_file(path)))
        except CatalogError as exc:
            issues.extend(exc.issues)
    if issues:
        raise CatalogError(issues)
    return merge_catalogs(parts)


def merge_catalogs(parts: Iterable[tuple[str, Catalog]]) -> SourcedCatalog:
    """Concatenate the sections of several catalogs (duplicates are left for validation to report).

    At most one part may define the operator.
    """
    sections: dict[str, list[Any]] = {section: [] for section in SECTIONS}
    origins: dict[str, list[str]] = {section: [] for section in SECTIONS}
    operator = None
    operator_files: list[str] = []
    for file, catalog in parts:
        for section in SECTIONS:
            entries = getattr(catalog, section)
            sections[section].extend(entries)
            origins[section].extend([file] * len(entries))
        if catalog.operator is not None:
            operator = catalog.operator
            operator_files.append(file)
    if len(operator_files) > 1:
        raise CatalogError(
            [
                CatalogIssue(
                    file=file,
                    entry="operator",
                    field="",
                    message=f"the operator is defined in several files: {', '.join(operator_files)}",
                )
                for file in operator_files[1:]
            ]
        )
    merged = Catalog(operator=operator, **{section: tuple(sections[section]) for section in SECTIONS})
    frozen_origins = {section: tuple(files) for section, files in origins.items()}
    frozen_origins["operator"] = tuple(operator_files)
    return SourcedCatalog(catalog=merged, origins=frozen_origins)


def dump_catalog(catalog: Catalog) -> bytes:
    """YAML in the format `parse_catalog` reads (defaults omitted)."""
    return msgspec.yaml.encode(catalog)


def _locate(error: msgspec.ValidationError, data: bytes, file: str) -> CatalogIssue:
    message, section, index, field = split_validation_error(error)
    if section is None:
        return CatalogIssue(file=file, entry="file", field=field, message=message)
    if section == "operator":
        return CatalogIssue(file=file, entry="operator", field=field, message=message)
    if index is None:
        return CatalogIssue(file=file, entry=section, field=field, message=message)
    raw: object = None
    try:
        document = yaml.safe_load(data)
        raw = document[section][index]
    except (yaml.YAMLError, KeyError, IndexError, TypeError):
        raw = None
    label = entry_label(section, raw) if isinstance(raw, dict) else ""
    if not label or label.endswith(" ?"):
        label = f"{section}[{index}]"
    return CatalogIssue(file=file, entry=label, field=field, message=message)
