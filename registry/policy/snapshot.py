"""An immutable, indexed view of the catalog that evaluation reads and never changes.

Everything that does not depend on the request is computed here once: compiled license terms,
effective licenses per artifact (bases transitively, components), agreements per holder by
family and artifact, runners per artifact. The merged license set of a (model, adapters)
combination is memoised on first use; that memo is invisible to callers (same answer either way).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from operator import attrgetter
from typing import TYPE_CHECKING

import msgspec

from registry.catalog.entries import (
    Agreement,
    Artifact,
    Catalog,
    CreatorPermissions,
    Operator,
    Runner,
    Tenant,
    TenantProfile,
)
from registry.policy.agreements import HolderAgreements, group_by_holder
from registry.policy.compiled import CompiledLicense
from registry.policy.decision import AppliedLicense, AppliedVia
from registry.policy.keys import Memo
from registry.policy.lineage import ArtifactLicenses, resolve_lineages
from registry.vocabulary import ArtifactKind, HostKind

if TYPE_CHECKING:
    from registry.policy.stack import StackPlan

_COMBINATION_MEMO_LIMIT = 65_536
MEMO_PER_USE = 4_096
KEY_PARTS_LIMIT = 65_536
"""Distinct key parts a snapshot keeps (`CatalogSnapshot.key_parts`)."""
"""Entries of one license use's memo (or one license's) before it starts afresh."""
_EMPTY_AGREEMENTS = HolderAgreements()


class LicenseUse(msgspec.Struct, frozen=True, eq=False, gc=False):
    """One license document as it applies to a whole request (merged over its artifacts).
    Compiled stacks, their views and license uses form no cycles: untracked by the collector,
    which would otherwise walk every stack ever met at each full collection."""

    ref: str
    license: CompiledLicense | None
    """None when the catalog lacks the document: an error, never a grant."""
    entries: tuple[AppliedLicense, ...]
    artifacts: tuple[str, ...]
    coverage: tuple[tuple[str, ...], ...]
    """Per requested artifact it applies to: the ids an agreement may name to cover it (sorted
    tuples: untracked by the collector)."""
    restrictions_bind: bool
    """False only when every path is an inheritance the license says does not carry its use
    restrictions."""
    memo: Memo = msgspec.field(default_factory=Memo)
    """Reasons and obligations built for this use, and the operator's judgements of it, reused by
    later requests (never changes them)."""
    tenant_judgements: Memo = msgspec.field(default_factory=Memo)
    """Tenant judgements that no agreement takes part in, with this use's artifacts, by the facts
    they read (`party.tenant_judgement`): a stack judged for new facts finds most of its
    licenses here."""
    tenant_steps: Memo = msgspec.field(default_factory=Memo)
    """`judge.license_steps` for the tenants with the facts of one of `tenant_judgements`, by that
    judgement (compared by identity): what a tenant whose own agreements could change it
    replays (`party.judged_with_agreements`)."""


class TenantSeen(msgspec.Struct, frozen=True, gc=False):
    """A tenant as every request for it reads it, in one object (`CatalogSnapshot.tenant_seen`):
    requests name tenants at random, so each object read on the way from the tenant to its
    profile, registrations and agreements is one more that the CPU fetches from memory."""

    tenant: Tenant
    retired: bool
    profile: TenantProfile
    registrations: frozenset[str]
    """The profile's, as a set: intersecting two sets reads none of their strings."""
    agreements: HolderAgreements


class RequestLicenses(msgspec.Struct, frozen=True, eq=False, gc=False):
    """The merged effective licenses of a model with adapters."""

    uses: tuple[LicenseUse, ...]
    applied: tuple[AppliedLicense, ...]
    creators: tuple[tuple[str, CreatorPermissions], ...]
    problems: tuple[str, ...]


class CatalogSnapshot:
    """Build with `CatalogSnapshot.build(catalog)`; share freely between threads and requests.

    Its mappings are plain dicts typed read-only (a `MappingProxyType` costs on every lookup of
    the hot path): treat them as immutable. A long-lived snapshot is worth `gc.freeze()` after
    it is built, so collections never walk the catalog again."""

    __slots__ = (
        "_combinations",
        "_holder_indexes",
        "_holder_positions",
        "agreements",
        "all_agreements",
        "alternative_models",
        "artifact_licenses",
        "artifacts",
        "key_parts",
        "licenses",
        "operator",
        "runners",
        "runners_by_artifact",
        "stack_plans",
        "tenants",
        "tenants_seen",
        "version",
    )

    version: str
    licenses: Mapping[str, CompiledLicense]
    artifacts: Mapping[str, Artifact]
    artifact_licenses: Mapping[str, ArtifactLicenses]
    tenants: Mapping[str, Tenant]
    operator: Operator
    agreements: Mapping[str, list[Agreement]]
    """Agreements per holder (a tenant id or `operator`)."""
    all_agreements: tuple[Agreement, ...]
    """Every agreement, in catalog order: judgements name those they checked by position, so
    the memos keeping them hold nothing the collector walks."""
    runners: Mapping[str, Runner]
    runners_by_artifact: Mapping[str, tuple[Runner, ...]]
    alternative_models: tuple[Artifact, ...]
    stack_plans: dict[tuple[str, tuple[str, ...], str | None], StackPlan]
    """Compiled (model, adapters, runner) stacks, built on first use by `stack.stack_plan`: a
    memo invisible to callers, like the merged license sets."""
    tenants_seen: dict[str, TenantSeen]
    """What `tenant_seen` gathered, by tenant id: `evaluate` looks here first (a method call
    fewer per decision)."""
    key_parts: dict[tuple[object, ...], tuple[object, ...]]
    """One tuple per distinct value of the parts of memo keys that requests build afresh (a
    tenant's facts, the territory the operator serves): keys holding the one kept here compare
    by identity instead of reading the stored key's items, objects seldom in the CPU's caches.
    Cleared past `KEY_PARTS_LIMIT` (keys then compare by value, as before)."""
    _combinations: dict[tuple[str, tuple[str, ...]], RequestLicenses]
    _holder_indexes: dict[str, HolderAgreements]
    _holder_positions: dict[str, list[int]]

    @classmethod
    def build(cls, catalog: Catalog, *, version: str | None = None) -> CatalogSnapshot:
        """Index `catalog`. `version` names the catalog revision in decision ids; by default a
        digest of the catalog that does not depend on the order of its entries."""
        self = object.__new__(cls)
        licenses = {doc.ref: CompiledLicense.compile(doc) for doc in catalog.licenses}
        artifacts = {a.id: a for a in catalog.artifacts}
        runners = {r.id: r for r in sorted(catalog.runners, key=lambda r: r.id)}
        by_artifact: dict[str, list[Runner]] = {}
        for runner in runners.values():
            if runner.enabled:
                for artifact_id in runner.artifacts:
                    by_artifact.setdefault(artifact_id, []).append(runner)
        self.version = version if version is not None else catalog_digest(catalog)
        self.licenses = licenses
        self.artifacts = artifacts
        self.artifact_licenses = resolve_lineages(artifacts, licenses)
        self.tenants = {t.id: t for t in catalog.tenants}
        self.operator = catalog.operator or Operator()
        self.all_agreements = tuple(catalog.agreements)
        self.agreements, self._holder_positions = group_by_holder(self.all_agreements)
        self.runners = runners
        self.runners_by_artifact = {k: tuple(v) for k, v in by_artifact.items()}
        self.alternative_models = tuple(
            sorted(
                (
                    a
                    for a in artifacts.values()
                    if not a.retired and a.kind in (ArtifactKind.BASE_MODEL, ArtifactKind.PROVIDER_SERVICE)
                ),
                key=lambda a: a.id,
            )
        )
        self._combinations = {}
        self._holder_indexes = {}
        self.tenants_seen = {}
        self.stack_plans = {}
        self.key_parts = {}
        return self

    def key_part(self, part: tuple[object, ...]) -> tuple[object, ...]:
        """The tuple equal to `part` kept in `key_parts` (`part` itself, kept, when none was)."""
        parts = self.key_parts
        if len(parts) >= KEY_PARTS_LIMIT:
            parts.clear()
        return parts.setdefault(part, part)

    def tenant_seen(self, tenant_id: str) -> TenantSeen | None:
        """The tenant with what every request for it reads, gathered on first use; None when it
        is not in the catalog."""
        seen = self.tenants_seen.get(tenant_id)
        if seen is None:
            tenant = self.tenants.get(tenant_id)
            if tenant is None:
                return None
            profile = tenant.profile
            registrations = frozenset(profile.registrations)
            seen = TenantSeen(tenant, tenant.retired, profile, registrations, self.agreements_of(tenant_id))
            self.tenants_seen[tenant_id] = seen
        return seen

    def agreements_of(self, holder: str) -> HolderAgreements:
        """The holder's agreements by license family and artifact (indexed on first use: indexing
        100,000 agreements up front would double the build time)."""
        index = self._holder_indexes.get(holder)
        if index is None:
            positions = self._holder_positions.get(holder)
            if positions is None:
                return _EMPTY_AGREEMENTS
            index = self._holder_indexes[holder] = HolderAgreements.index(self.all_agreements, positions)
        return index

    def candidate_runners(self, model_id: str) -> tuple[Runner, ...]:
        """Enabled runners serving the model, by id."""
        return self.runners_by_artifact.get(model_id, ())

    def operator_hosts(self, runner: Runner) -> bool:
        return runner.host is HostKind.OPERATOR

    def request_licenses(self, model_id: str, adapter_ids: tuple[str, ...]) -> RequestLicenses:
        """Merged effective licenses of the model and adapters (all must be in the catalog)."""
        key = (model_id, adapter_ids)
        found = self._combinations.get(key)
        if found is not None:
            return found
        merged = _merge([self.artifact_licenses[a] for a in dict.fromkeys((model_id, *adapter_ids))], self)
        if len(self._combinations) >= _COMBINATION_MEMO_LIMIT:
            self._combinations.clear()
        self._combinations[key] = merged
        return merged


def _merge(parts: list[ArtifactLicenses], snapshot: CatalogSnapshot) -> RequestLicenses:
    by_ref: dict[str, list[tuple[AppliedLicense, frozenset[str]]]] = {}
    applied: list[AppliedLicense] = []
    problems: list[str] = []
    creators: dict[str, CreatorPermissions] = {}
    for part in parts:
        problems.extend(part.problems)
        creators.update(part.creators)
        for entry in part.applied:
            applied.append(entry)
            by_ref.setdefault(entry.license, []).append((entry, part.lineage))
    uses = []
    for ref in sorted(by_ref):
        pairs = by_ref[ref]
        compiled = snapshot.licenses.get(ref)
        coverage: dict[str, frozenset[str]] = {}
        for entry, lineage in pairs:
            coverage[entry.artifact] = (
                coverage.get(entry.artifact, frozenset()) | lineage | frozenset(entry.path)
            )
        binds = (
            compiled is None
            or compiled.restrictions_propagate
            or any(e.via is not AppliedVia.BASE for e, _ in pairs)
        )
        uses.append(
            LicenseUse(
                ref=ref,
                license=compiled,
                entries=tuple(e for e, _ in pairs),
                artifacts=tuple(sorted(coverage)),
                coverage=tuple(tuple(sorted(coverage[a])) for a in sorted(coverage)),
                restrictions_bind=binds,
            )
        )
    return RequestLicenses(
        uses=tuple(uses),
        applied=tuple(applied),
        creators=tuple(sorted(creators.items())),
        problems=tuple(dict.fromkeys(problems)),
    )


def catalog_digest(catalog: Catalog) -> str:
    """A digest of the catalog's content, independent of the order of its entries (each section
    is sorted by id before it is encoded)."""
    by_id = attrgetter("id")
    sections = (
        sorted(catalog.licenses, key=attrgetter("key", "version")),
        sorted(catalog.artifacts, key=by_id),
        sorted(catalog.tenants, key=by_id),
        sorted(catalog.agreements, key=by_id),
        sorted(catalog.runners, key=by_id),
        catalog.operator,
    )
    return hashlib.blake2b(_DIGEST_ENCODER.encode(sections), digest_size=16).hexdigest()


_DIGEST_ENCODER = msgspec.json.Encoder(order="deterministic")
