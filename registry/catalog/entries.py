"""Catalog entries: the typed shape of everything the catalog holds.

The same Structs are decoded from YAML catalog files, stored (as rows plus validated JSON) and
served over the API, so a field means the same thing everywhere. Cross-entry checks (unknown
license, missing base, cycles) live in `registry.catalog.validation`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

import msgspec

from registry.terms import LicenseTerms, Obligation, Region
from registry.vocabulary import (
    ArtifactKind,
    BaseRelation,
    CivitaiCommercialUse,
    HostKind,
    OrganisationType,
    Purpose,
    RunnerKind,
    Verification,
)

Slug = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,199}$")]

# Texts at most as long as their columns (PostgreSQL refuses longer ones; SQLite would keep them).
Name200 = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
Name300 = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
Text64 = Annotated[str, msgspec.Meta(max_length=64)]
Text200 = Annotated[str, msgspec.Meta(max_length=200)]
Text300 = Annotated[str, msgspec.Meta(max_length=300)]
Text1000 = Annotated[str, msgspec.Meta(max_length=1000)]
Text2000 = Annotated[str, msgspec.Meta(max_length=2000)]
Text4000 = Annotated[str, msgspec.Meta(max_length=4000)]
"""Ids of catalog entries: Hugging Face style (`black-forest-labs/FLUX.2-dev`) or plain slugs."""
Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
Money = Annotated[float, msgspec.Meta(ge=0)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Int32 = Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
"""A count stored in a 32-bit column."""

LICENSE_REF = re.compile(r"^(?P<key>[A-Za-z0-9][A-Za-z0-9._-]*)@(?P<version>[A-Za-z0-9][A-Za-z0-9._-]*)$")
LicenseRefText = Annotated[str, msgspec.Meta(pattern=LICENSE_REF.pattern)]
"""A reference to one license version: `key@version`, e.g. `flux-dev-ncl@2.0`."""

UNKNOWN_LICENSE = "unknown@0"
"""The license of artifacts whose license could not be determined; the policy treats it as
`needs_review`, never allow."""

OPERATOR = "operator"
"""The holder id of the operator's own agreements."""


def split_license_ref(ref: str) -> tuple[str, str]:
    match = LICENSE_REF.match(ref)
    if match is None:
        raise ValueError(f"license reference {ref!r} is not of the form key@version")
    return match["key"], match["version"]


class _Entry(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    pass


class LicenseDocument(_Entry, frozen=True):
    key: Slug
    version: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    title: Name300
    licensor: Name200
    family: Slug
    """Agreements cover a family (all versions, and all licenses a licensor groups together)."""
    terms: LicenseTerms
    url: Text1000 | None = None
    text_sha256: Sha256 | None = None
    spdx_id: Text200 | None = None
    """An SPDX id (`Apache-2.0`) or `LicenseRef-...`."""
    hf_aliases: tuple[str, ...] = ()
    verification: Verification = Verification.VERIFIED
    verification_note: Text2000 | None = None
    service_terms: bool = False
    """True for a provider's service terms (attached to runners), not a weight license."""
    retired: bool = False

    @property
    def ref(self) -> str:
        return f"{self.key}@{self.version}"


class SourceFile(_Entry, frozen=True):
    name: Annotated[str, msgspec.Meta(min_length=1)]
    sha256: Sha256 | None = None


class ArtifactSource(_Entry, tag_field="type", frozen=True):
    pass


class HuggingFaceSource(ArtifactSource, tag="huggingface", frozen=True):
    repo_id: Annotated[str, msgspec.Meta(min_length=1)]
    revision: str | None = None
    files: tuple[SourceFile, ...] = ()


class LocalSource(ArtifactSource, tag="local", frozen=True):
    path: Annotated[str, msgspec.Meta(min_length=1)]
    files: tuple[SourceFile, ...] = ()


class ProviderSource(ArtifactSource, tag="provider", frozen=True):
    provider: Annotated[str, msgspec.Meta(min_length=1)]
    endpoint: str | None = None
    model: str | None = None


class CivitaiSource(ArtifactSource, tag="civitai", frozen=True):
    """A Civitai model version; `files` holds the one weight file with its sha256."""

    model_id: Annotated[int, msgspec.Meta(ge=1)]
    version_id: Annotated[int, msgspec.Meta(ge=1)]
    files: tuple[SourceFile, ...] = ()
    download_url: str | None = None


Source = HuggingFaceSource | LocalSource | ProviderSource | CivitaiSource


class CreatorPermissions(_Entry, frozen=True):
    """Civitai creator flags: layered on top of the base license, they can only narrow it."""

    allow_no_credit: bool = True
    allow_commercial_use: tuple[CivitaiCommercialUse, ...] = ()
    allow_derivatives: bool = True
    allow_different_license: bool = True
    creator: str | None = None


class InferenceSettings(_Entry, frozen=True):
    steps: Annotated[int, msgspec.Meta(ge=1, le=1000)] | None = None
    guidance: Annotated[float, msgspec.Meta(ge=0, le=100)] | None = None
    sigmas: tuple[float, ...] | None = None
    weight_name: str | None = None
    width: Annotated[int, msgspec.Meta(ge=8, le=8192)] | None = None
    height: Annotated[int, msgspec.Meta(ge=8, le=8192)] | None = None
    max_width: Annotated[int, msgspec.Meta(ge=8, le=8192)] | None = None
    max_height: Annotated[int, msgspec.Meta(ge=8, le=8192)] | None = None


class Artifact(_Entry, frozen=True):
    id: Slug
    kind: ArtifactKind
    name: Name300
    license: LicenseRefText
    """The license this artifact itself is under (what its licensor or creator declares, once
    normalised); its effective license also includes its bases' and components'."""
    family: Text64 | None = None
    """Pipeline family for runners (`flux2`, `flux1`, `sdxl`, `sd1`, `sd3`, ...)."""
    source: Source | None = None
    bases: tuple[Slug, ...] = ()
    base_relation: BaseRelation | None = None
    components: tuple[Slug, ...] = ()
    declared_license: Text300 | None = None
    """The license exactly as the source declared it (HF `license`/`license_name`, Civitai)."""
    license_flags: tuple[str, ...] = ()
    """E.g. `declared_more_permissive_than_base`: noted, never widening the effective license."""
    creator_permissions: CreatorPermissions | None = None
    recommended: InferenceSettings | None = None
    always_on: bool = False
    """An adapter fused into its base once at load (the Turbo LoRA)."""
    gated: Text1000 | None = None
    description: Text4000 | None = None
    retired: bool = False


class TenantProfile(_Entry, frozen=True):
    organisation_type: OrganisationType | None = None
    country: Region | None = None
    end_user_regions: tuple[Region, ...] = ()
    annual_revenue_usd: Money | None = None
    """Including affiliates (>50% control); None when not declared."""
    monthly_active_users: Int32 | None = None
    image_generation_core_business: bool | None = None
    registrations: tuple[str, ...] = ()
    """Licensors the organisation registered with (e.g. `stability-ai`)."""


class TenantLimits(_Entry, frozen=True):
    """One tenant's job limits where they differ from the gateway's settings (a plan, a tier);
    a field left out keeps the setting."""

    concurrency: Annotated[int, msgspec.Meta(ge=1, le=100_000)] | None = None
    """Jobs running at once, every gateway process together (`CLEARANCE_JOB_CONCURRENCY`)."""
    rate_per_minute: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] | None = None
    """Submissions per UTC minute (`CLEARANCE_JOB_RATE_PER_MINUTE`)."""
    queue_depth: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] | None = None
    """Jobs queued before submissions answer 429 (`CLEARANCE_JOB_QUEUE_DEPTH`)."""


class Tenant(_Entry, frozen=True):
    id: Slug
    name: Name300
    profile: TenantProfile = TenantProfile()
    default_purpose: Purpose | None = None
    retired: bool = False
    limits: TenantLimits | None = None
    """Job limits of this tenant's own; None: the settings'."""


class Operator(_Entry, frozen=True):
    """The party running the gateway: a licensee itself whenever its runners host weights."""

    id: Slug = "operator"
    name: Name300 = "Operator"
    profile: TenantProfile = TenantProfile()
    charges_tenants: bool = True


class AgreementCoverage(_Entry, frozen=True):
    license_families: tuple[Slug, ...] = ()
    artifacts: tuple[Slug, ...] = ()


class Agreement(_Entry, frozen=True):
    id: Slug
    holder: Slug
    """A tenant id, or `operator` for the operator's own agreements."""
    licensor: Name200
    covers: AgreementCoverage
    purposes: tuple[Purpose, ...]
    valid_from: dt.date
    valid_until: dt.date | None = None
    monthly_quota: Int32 | None = None
    obligations: tuple[Obligation, ...] = ()
    revoked_at: dt.date | None = None
    title: Text300 | None = None


class Runner(_Entry, frozen=True):
    id: Slug
    kind: RunnerKind
    host: HostKind
    artifacts: tuple[Slug, ...]
    provider: Text200 | None = None
    """The provider's name when `host` is `provider`."""
    service_terms: LicenseRefText | None = None
    region: Region | None = None
    price_per_image_usd: Money | None = None
    price_per_megapixel_usd: Money | None = None
    capacity: Annotated[int, msgspec.Meta(ge=1, le=2**31 - 1)] = 1
    enabled: bool = True
    paused: bool = False
    """Held for maintenance by the operator: jobs routed to it wait queued (up to the tenant's
    queue depth) until it is resumed, and it stays a candidate; `enabled: false` takes it out of
    dispatch instead. Jobs already running on it finish."""
    endpoint: Text1000 | None = None
    config: dict[str, str] = {}


class Catalog(_Entry, frozen=True):
    """One catalog file (or the union of several)."""

    licenses: tuple[LicenseDocument, ...] = ()
    artifacts: tuple[Artifact, ...] = ()
    tenants: tuple[Tenant, ...] = ()
    agreements: tuple[Agreement, ...] = ()
    runners: tuple[Runner, ...] = ()
    operator: Operator | None = None
