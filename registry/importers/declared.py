"""What a source declares about its license, before any normalisation."""

from __future__ import annotations

import msgspec


class DeclaredLicense(msgspec.Struct, frozen=True, kw_only=True):
    """The license fields of a Hugging Face card (or their Civitai equivalent), verbatim."""

    license: str | None = None
    """HF `license`: an id from the Hub's list (`apache-2.0`) or `other`."""
    license_name: str | None = None
    """HF `license_name`: the real name when `license` is `other`; preferred over everything else."""
    license_link: str | None = None
    tag_license: str | None = None
    """The license computed into the repo tags (`license:...`), the weakest signal."""

    @property
    def is_empty(self) -> bool:
        return not (self.license or self.license_name or self.license_link or self.tag_license)

    @property
    def text(self) -> str | None:
        """The declaration as recorded in `Artifact.declared_license`: the most specific name."""
        if self.license_name:
            return self.license_name
        if self.license and self.license.lower() != "other":
            return self.license
        if self.license_link:
            return self.license_link
        if self.license:
            return self.license
        return self.tag_license
