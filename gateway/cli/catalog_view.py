"""Plain-text view of a catalog for `clearance catalog show` (and the demo)."""

from __future__ import annotations

from collections.abc import Iterable

from registry.catalog.entries import Artifact, Catalog, LicenseDocument
from registry.terms import Grant
from registry.vocabulary import ArtifactKind, GrantStatus, Verification

_STATUS_LABELS = {
    GrantStatus.ALLOWED: "allows",
    GrantStatus.CONDITIONAL: "conditions",
    GrantStatus.REQUIRES_AGREEMENT: "requires agreement",
    GrantStatus.DENIED: "denies",
    GrantStatus.CONFLICTING: "conflicting",
}
_SECTIONS = (
    ("Models", ArtifactKind.BASE_MODEL),
    ("Adapters", ArtifactKind.ADAPTER),
    ("Components", ArtifactKind.COMPONENT),
    ("Provider services", ArtifactKind.PROVIDER_SERVICE),
)


def render_catalog(catalog: Catalog) -> str:
    lines = [f"Licenses ({len(catalog.licenses)})"]
    for document in catalog.licenses:
        lines.extend(_license_lines(document))
    for title, kind in _SECTIONS:
        artifacts = [a for a in catalog.artifacts if a.kind is kind]
        lines.append(f"{title} ({len(artifacts)})")
        lines.extend(_artifact_line(artifact) for artifact in artifacts)
    lines.append(f"Runners ({len(catalog.runners)})")
    for runner in catalog.runners:
        where = runner.provider or runner.host.value
        state = "" if runner.enabled else ", disabled"
        lines.append(f"  {runner.id} [{runner.kind.value} on {where}{state}]: {', '.join(runner.artifacts)}")
    lines.append(f"Tenants ({len(catalog.tenants)}), agreements ({len(catalog.agreements)})")
    for agreement in catalog.agreements:
        purposes = ", ".join(p.value for p in agreement.purposes)
        lines.append(f"  {agreement.id}: {agreement.holder} with {agreement.licensor} for {purposes}")
    return "\n".join(lines)


def _license_lines(document: LicenseDocument) -> list[str]:
    flags = []
    if document.verification is not Verification.VERIFIED:
        flags.append(document.verification.value)
    if document.service_terms:
        flags.append("service terms")
    if document.retired:
        flags.append("retired")
    suffix = f" [{', '.join(flags)}]" if flags else ""
    lines = [f"  {document.ref}: {document.title} ({document.licensor}){suffix}"]
    for status in GrantStatus:
        grants = [g for g in document.terms.grants if g.status is status]
        if grants:
            lines.append(f"    {_STATUS_LABELS[status]}: {_grants(grants)}")
    return lines


def _grants(grants: Iterable[Grant]) -> str:
    parts = []
    for grant in grants:
        conditions = ", ".join(condition.__struct_config__.tag for condition in grant.conditions)  # type: ignore[misc]
        parts.append(f"{grant.purpose.value} ({conditions})" if conditions else grant.purpose.value)
    return ", ".join(parts)


def _artifact_line(artifact: Artifact) -> str:
    details = [f"license {artifact.license}"]
    if artifact.bases:
        details.append(f"on {', '.join(artifact.bases)}")
    if artifact.components:
        details.append(f"with {', '.join(artifact.components)}")
    if artifact.retired:
        details.append("retired")
    return f"  {artifact.id}: {artifact.name} ({'; '.join(details)})"
