"""Normalising the noisy license names seen on the Hub to catalog license references.

Two sources, in this order: the `hf_aliases` (and key, SPDX id) of each license document in the
catalog, which the catalog's authors chose for that exact version; then the built-in table below
of names collected in the wild, each mapped to candidate references that are used only when the
catalog holds them. Names are compared after case and punctuation are removed, so
`FLUX.1 [dev] Non-Commercial License`, `flux-1-dev-non-commercial-license` and
`flux_1_dev_non_commercial_license` are one name. Anything else resolves to nothing, and the
importer records `unknown@0`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import msgspec

from registry.catalog.entries import UNKNOWN_LICENSE, Catalog, LicenseDocument, split_license_ref
from registry.importers.declared import DeclaredLicense

_FLUX1_DEV = ("flux-dev-ncl@1.1.1", "flux-dev-ncl@2.0", "flux-dev-ncl")
_FLUX2_DEV = ("flux-dev-ncl@2.0", "flux-dev-ncl")
_SAI_COMMUNITY = ("stability-ai-community@2024-07-05", "stability-ai-community")
_SAI_NC = ("stability-ai-nc-research@2023-11-28", "stability-ai-nc-research")
_OPENRAIL_PP = ("creativeml-openrail-pp-m@2023-07-26", "creativeml-openrail-pp-m")
_OPENRAIL_M = ("creativeml-openrail-m@2022-08-22", "creativeml-openrail-m")
_HUNYUAN = ("tencent-hunyuan-community",)
_PLAYGROUND = ("playground-community@2.5", "playground-community")
_NVIDIA = ("nvidia-license@sana", "nvidia-license")
_APACHE = ("apache@2.0", "apache")
_MIT = ("mit@1", "mit")
_LLAMA31 = ("llama-community@3.1", "llama-community")

BUILTIN_ALIASES: Mapping[str, tuple[str, ...]] = {
    # FLUX [dev] Non-Commercial License: FLUX.1 names, FLUX.2 names, and what people type.
    "flux-1-dev-non-commercial-license": _FLUX1_DEV,
    "flux.1-dev-non-commercial-license": _FLUX1_DEV,
    "license-flux1-dev": _FLUX1_DEV,
    "flux1-dev": _FLUX1_DEV,
    "flux-1-dev": _FLUX1_DEV,
    "flux-1-dev-license": _FLUX1_DEV,
    "FLUX.1 [dev] Non-Commercial License": _FLUX1_DEV,
    "flux-dev-non-commercial-license": _FLUX2_DEV,
    "FLUX [dev] Non-Commercial License": _FLUX2_DEV,
    "flux-dev-license": _FLUX2_DEV,
    "flux-dev": _FLUX2_DEV,
    "flux-non-commercial-license": _FLUX2_DEV,
    # Stability AI.
    "stabilityai-ai-community": _SAI_COMMUNITY,
    "stability-ai-community": _SAI_COMMUNITY,
    "stabilityai-community-license": _SAI_COMMUNITY,
    "Stability AI Community License": _SAI_COMMUNITY,
    "sai-nc-community": _SAI_NC,
    "stabilityai-nc-research-community": _SAI_NC,
    "Stability AI Non-Commercial Research Community License": _SAI_NC,
    # CreativeML RAIL.
    "openrail++": _OPENRAIL_PP,
    "openrail++-m": _OPENRAIL_PP,
    "creativeml-openrail++-m": _OPENRAIL_PP,
    "CreativeML Open RAIL++-M": _OPENRAIL_PP,
    "creativeml-openrail-m": _OPENRAIL_M,
    "CreativeML Open RAIL-M": _OPENRAIL_M,
    # Others named in LICENSE-FACTS.md.
    "tencent-hunyuan-community": _HUNYUAN,
    "Tencent Hunyuan Community License": _HUNYUAN,
    "playground-v2.5-community": _PLAYGROUND,
    "playground-v2dot5-community": _PLAYGROUND,
    "Playground v2.5 Community License": _PLAYGROUND,
    "nvidia-license": _NVIDIA,
    "nvidia-license-non-commercial": _NVIDIA,
    "nsclv1": _NVIDIA,
    "nvidia-source-code-license": _NVIDIA,
    "apache-2.0": _APACHE,
    "apache-license-2.0": _APACHE,
    "apache2": _APACHE,
    "Apache License, Version 2.0": _APACHE,
    "mit": _MIT,
    "MIT License": _MIT,
    "llama3.1": _LLAMA31,
    "llama-3.1-community-license": _LLAMA31,
}
"""Names seen in the wild -> candidate catalog references, most specific first. A candidate
without `@version` stands for the newest non-retired version of that key in the catalog."""

BUILTIN_LINK_PATTERNS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"black-forest-labs/flux\.1-[a-z-]*dev/(blob|resolve)/[^/]+/license"), _FLUX1_DEV),
    (re.compile(r"black-forest-labs/flux\.2-dev/(blob|resolve)/[^/]+/license"), _FLUX2_DEV),
    (re.compile(r"bfl\.ai/legal/non-commercial-license"), _FLUX2_DEV),
    (re.compile(r"stability\.ai/community-license"), _SAI_COMMUNITY),
    (re.compile(r"apache\.org/licenses/license-2\.0"), _APACHE),
    (re.compile(r"opensource\.org/licenses/mit"), _MIT),
)
"""License links (lowercased, scheme stripped) that identify a license when the name does not."""

_NOT_A_NAME = frozenset({"", "other", "unknown", "none", "n/a", "na", "custom", "proprietary"})


def normalise_license_name(name: str) -> str:
    """Case and punctuation removed: `FLUX.1 [dev] Non-Commercial License` -> `flux1devnoncommerciallicense`.

    `+` survives, so `openrail++` stays distinct from `openrail`.
    """
    return re.sub(r"[^a-z0-9+]", "", name.strip().lower())


def _normalise_link(link: str) -> str:
    text = link.strip().lower()
    text = re.sub(r"^[a-z]+://", "", text)
    text = re.sub(r"^www\.", "", text)
    return text.rstrip("/")


def _version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"[.-]", version))


class LicenseResolution(msgspec.Struct, frozen=True, kw_only=True):
    ref: str
    """A catalog license reference, or `unknown@0`."""
    declared: str | None
    """The declaration as the source wrote it (for `Artifact.declared_license`)."""
    matched: str | None = None
    """Which declared value matched (`license_name`, `license`, `license_link`, `tag`)."""

    @property
    def is_unknown(self) -> bool:
        return self.ref == UNKNOWN_LICENSE


class LicenseAliasTable:
    """Maps declared names and links to references of license documents the catalog holds."""

    def __init__(
        self,
        licenses: Iterable[LicenseDocument],
        builtin: Mapping[str, tuple[str, ...]] = BUILTIN_ALIASES,
    ) -> None:
        self._documents = {doc.ref: doc for doc in licenses}
        self._newest: dict[str, str] = {}
        for doc in sorted(self._documents.values(), key=lambda d: _version_key(d.version)):
            if not doc.retired or doc.key not in self._newest:
                self._newest[doc.key] = doc.ref
        self._names: dict[str, str] = {}
        for doc in self._documents.values():
            if doc.service_terms:
                continue  # a provider's service terms are never a weight license
            for name in (*doc.hf_aliases, doc.spdx_id, doc.key):
                if name:
                    self._names.setdefault(normalise_license_name(name), doc.ref)
        for name, candidates in builtin.items():
            ref = self._first_present(candidates)
            if ref is not None:
                self._names.setdefault(normalise_license_name(name), ref)
        self._links: list[tuple[re.Pattern[str], str]] = []
        for doc in self._documents.values():
            if doc.url:
                self._links.append((re.compile(re.escape(_normalise_link(doc.url)) + r"$"), doc.ref))
        for pattern, candidates in BUILTIN_LINK_PATTERNS:
            ref = self._first_present(candidates)
            if ref is not None:
                self._links.append((pattern, ref))

    @classmethod
    def from_catalog(cls, catalog: Catalog) -> LicenseAliasTable:
        return cls(catalog.licenses)

    def aliases(self) -> dict[str, str]:
        """Every normalised name this table knows, with the reference it resolves to."""
        return dict(self._names)

    def document(self, ref: str) -> LicenseDocument | None:
        return self._documents.get(ref)

    def resolve_name(self, name: str | None) -> str | None:
        if name is None or name.strip().lower() in _NOT_A_NAME:
            return None
        text = name.strip()
        if text in self._documents:  # already a `key@version` reference
            return text
        return self._names.get(normalise_license_name(text))

    def resolve_link(self, link: str | None) -> str | None:
        if not link:
            return None
        normalised = _normalise_link(link)
        for pattern, ref in self._links:
            if pattern.search(normalised):
                return ref
        return None

    def resolve(self, declared: DeclaredLicense) -> LicenseResolution:
        """`license_name` first (the Hub's `license: other` defers to it), then `license`, then the
        link, then the computed tag; the first that names a catalog license wins."""
        attempts = (
            ("license_name", self.resolve_name(declared.license_name)),
            ("license", self.resolve_name(declared.license)),
            ("license_link", self.resolve_link(declared.license_link)),
            ("tag", self.resolve_name(declared.tag_license)),
        )
        for matched, ref in attempts:
            if ref is not None:
                return LicenseResolution(ref=ref, declared=declared.text, matched=matched)
        return LicenseResolution(ref=UNKNOWN_LICENSE, declared=declared.text)

    def _first_present(self, candidates: tuple[str, ...]) -> str | None:
        for candidate in candidates:
            if "@" in candidate:
                split_license_ref(candidate)
                if candidate in self._documents:
                    return candidate
            elif candidate in self._newest:
                return self._newest[candidate]
        return None
