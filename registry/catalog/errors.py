"""Catalog errors: every problem names the file, the entry and the field it is about."""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec


class CatalogIssue(msgspec.Struct, frozen=True, kw_only=True):
    """One problem in a catalog; `file` is None for entries that did not come from a file."""

    entry: str
    """`section id`, e.g. `artifacts fal/FLUX.2-dev-Turbo` or `licenses flux-dev-ncl@2.0`."""
    field: str
    """The field inside the entry, e.g. `bases[0]` (empty when the entry as a whole is wrong)."""
    message: str
    file: str | None = None

    def __str__(self) -> str:
        where = f"{self.file}: " if self.file else ""
        field = f", field {self.field}" if self.field else ""
        return f"{where}{self.entry}{field}: {self.message}"


class CatalogError(Exception):
    """A catalog that cannot be loaded as it is; nothing was written."""

    def __init__(self, issues: Iterable[CatalogIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues) or "invalid catalog")


_PATH = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)
_SECTION = re.compile(r"^\.(?P<section>\w+)(?:\[(?P<index>\d+)\])?(?P<rest>.*)$")


def split_entry_validation_error(error: msgspec.ValidationError) -> tuple[str, str]:
    """msgspec's error for one entry as (message, field inside the entry)."""
    match = _PATH.match(str(error))
    if match is None:
        return str(error), ""
    return match["message"], match["path"].lstrip(".")


def split_validation_error(error: msgspec.ValidationError) -> tuple[str, str | None, int | None, str]:
    """msgspec's `"... - at `$.runners[0].price`"` as (message, section, index, field)."""
    text = str(error)
    match = _PATH.match(text)
    if match is None:
        return text, None, None, ""
    message, path = match["message"], match["path"]
    located = _SECTION.match(path)
    if located is None:
        return message, None, None, path.lstrip(".")
    index = located["index"]
    return message, located["section"], int(index) if index is not None else None, located["rest"].lstrip(".")


SECTIONS = ("licenses", "artifacts", "tenants", "agreements", "runners")
"""The list sections of a catalog, in the order their entries may refer to each other."""


def entry_id(section: str, raw: object) -> str:
    """The id of an entry (a Struct or the raw mapping read from YAML), `?` when it has none."""
    if section == "operator":
        return "operator"

    def get(name: str) -> object:
        return raw.get(name) if isinstance(raw, dict) else getattr(raw, name, None)

    if section == "licenses":
        key, version = get("key"), get("version")
        return f"{key}@{version}" if key is not None else "?"
    value = get("id")
    return str(value) if value is not None else "?"


def entry_label(section: str, raw: object) -> str:
    return "operator" if section == "operator" else f"{section} {entry_id(section, raw)}"
