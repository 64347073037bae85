"""Region codes as licenses use them: ISO 3166-1 alpha-2 plus `EU` for the Union as a whole."""

from __future__ import annotations

from collections.abc import Iterable

EU_MEMBERS = frozenset(
    {
        "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
        "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
    }
)  # fmt: skip


def expand_regions(regions: Iterable[str]) -> frozenset[str]:
    """Every code the regions stand for, so `EU` excluded catches `DE` and `DE` catches `EU`."""
    out: set[str] = set()
    for region in regions:
        out.add(region)
        if region == "EU":
            out.update(EU_MEMBERS)
        elif region in EU_MEMBERS:
            out.add("EU")
    return frozenset(out)
