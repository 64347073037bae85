"""An imported artifact's own license, given what it declares and what its bases' terms say.

A derivative of a base whose derivative terms bind it (FLUX [dev] §2(a), RAIL) stays under the
base's license whatever its tag says; the policy engine adds the bases' licenses to the effective
license anyway, so the only thing decided here is that a wider declaration is not recorded as the
artifact's own license. Permissiveness is compared grant by grant (weights and outputs), so
"wider" means "allows some purpose or output use the base does not".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from registry.catalog.entries import UNKNOWN_LICENSE, Artifact, LicenseDocument
from registry.importers import flags
from registry.importers.aliases import LicenseResolution
from registry.terms import LicenseTerms
from registry.vocabulary import BaseRelation, GrantStatus, OutputUse, Purpose

_RANK = {
    GrantStatus.DENIED: 0,
    GrantStatus.CONFLICTING: 1,
    GrantStatus.REQUIRES_AGREEMENT: 2,
    GrantStatus.CONDITIONAL: 3,
    GrantStatus.ALLOWED: 4,
}


class OwnLicense(msgspec.Struct, frozen=True, kw_only=True):
    license: str
    flags: tuple[str, ...] = ()


def _purpose_rank(terms: LicenseTerms, purpose: Purpose) -> int:
    grant = terms.grant_for(purpose)
    return 0 if grant is None else _RANK[grant.status]


def _output_rank(terms: LicenseTerms, use: OutputUse) -> int:
    grant = terms.output_grant_for(use)
    return 0 if grant is None else _RANK[grant.status]


def permissiveness(terms: LicenseTerms) -> int:
    return sum(_purpose_rank(terms, p) for p in Purpose) + sum(_output_rank(terms, u) for u in OutputUse)


def is_more_permissive(candidate: LicenseTerms, than: LicenseTerms) -> bool:
    """True when `candidate` allows some purpose or output use more than `than` does."""
    return any(_purpose_rank(candidate, p) > _purpose_rank(than, p) for p in Purpose) or any(
        _output_rank(candidate, u) > _output_rank(than, u) for u in OutputUse
    )


def ancestors(bases: Sequence[str], artifacts: Mapping[str, Artifact]) -> list[Artifact]:
    """The bases and, transitively, their bases (each once, cycles ignored)."""
    found: list[Artifact] = []
    seen: set[str] = set()
    pending = list(bases)
    while pending:
        artifact_id = pending.pop(0)
        if artifact_id in seen or artifact_id not in artifacts:
            continue
        seen.add(artifact_id)
        artifact = artifacts[artifact_id]
        found.append(artifact)
        pending.extend(artifact.bases)
    return found


def binding_base_licenses(
    bases: Sequence[str],
    relation: BaseRelation | None,
    artifacts: Mapping[str, Artifact],
    licenses: Mapping[str, LicenseDocument],
) -> list[LicenseDocument]:
    """Licenses of ancestors whose derivative terms say a derivative inherits them."""
    binding: list[LicenseDocument] = []
    direct = set(bases)
    for artifact in ancestors(bases, artifacts):
        doc = licenses.get(artifact.license)
        if doc is None or doc.terms.derivatives is None or not doc.terms.derivatives.inherits:
            continue
        if (
            artifact.id in direct
            and relation is BaseRelation.ADAPTER
            and not doc.terms.derivatives.includes_adapters
        ):
            continue
        if doc not in binding:
            binding.append(doc)
    return binding


def resolve_own_license(
    resolution: LicenseResolution,
    *,
    bases: Sequence[str],
    relation: BaseRelation | None,
    artifacts: Mapping[str, Artifact],
    licenses: Mapping[str, LicenseDocument],
) -> OwnLicense:
    """The declared license, unless a binding base's license is narrower: then the base's, flagged."""
    if resolution.is_unknown:
        flag = flags.LICENSE_MISSING if resolution.declared is None else flags.DECLARED_LICENSE_UNRECOGNISED
        return OwnLicense(license=UNKNOWN_LICENSE, flags=(flag,))
    declared = licenses.get(resolution.ref)
    if declared is None:
        return OwnLicense(license=UNKNOWN_LICENSE, flags=(flags.DECLARED_LICENSE_UNRECOGNISED,))
    narrower = [
        doc
        for doc in binding_base_licenses(bases, relation, artifacts, licenses)
        if doc.ref != declared.ref and is_more_permissive(declared.terms, doc.terms)
    ]
    if not narrower:
        return OwnLicense(license=declared.ref)
    narrowest = min(narrower, key=lambda doc: permissiveness(doc.terms))
    return OwnLicense(license=narrowest.ref, flags=(flags.DECLARED_MORE_PERMISSIVE_THAN_BASE,))


def license_from_bases(
    bases: Sequence[str],
    relation: BaseRelation | None,
    artifacts: Mapping[str, Artifact],
    licenses: Mapping[str, LicenseDocument],
) -> str:
    """For sources without a license field (Civitai): the narrowest binding base license, else the
    narrowest direct base license, else `unknown@0`."""
    binding = binding_base_licenses(bases, relation, artifacts, licenses)
    if binding:
        return min(binding, key=lambda doc: permissiveness(doc.terms)).ref
    direct = [
        licenses[artifacts[b].license] for b in bases if b in artifacts and artifacts[b].license in licenses
    ]
    if direct:
        return min(direct, key=lambda doc: permissiveness(doc.terms)).ref
    return UNKNOWN_LICENSE


def license_chain(artifact: Artifact, artifacts: Mapping[str, Artifact]) -> tuple[str, ...]:
    """The licenses whose terms the effective license combines: the artifact's own, its bases'
    (transitively) and its components'. For display; the policy engine decides."""
    refs = [artifact.license]
    for other in ancestors((*artifact.bases, *artifact.components), artifacts):
        refs.append(other.license)
        for component in other.components:
            if component in artifacts:
                refs.append(artifacts[component].license)
    return tuple(dict.fromkeys(refs))
