"""Effective licenses of one artifact: its own, its bases' (any number of levels) and its
components', computed once per snapshot. A LoRA trained on a non-commercial base stays under
the base's license whatever its own tag says, because the base's entry is always carried along."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from registry.catalog.entries import Artifact, CreatorPermissions
from registry.policy.compiled import CompiledLicense
from registry.policy.decision import AppliedLicense, AppliedVia
from registry.vocabulary import ArtifactKind, BaseRelation


@dataclass(frozen=True, slots=True)
class ArtifactLicenses:
    artifact_id: str
    applied: tuple[AppliedLicense, ...]
    lineage: frozenset[str]
    """The artifact and all its bases, transitively: an agreement naming any of them covers it."""
    creators: tuple[tuple[str, CreatorPermissions], ...]
    """Creator flags of the artifact and its bases: each can only narrow."""
    problems: tuple[str, ...]
    """Catalog faults (missing base, unknown license, cycle): evaluation turns them into errors."""


def _inherits(license_: CompiledLicense | None, derivative: Artifact) -> bool:
    if license_ is None:
        return True  # an unknown document cannot be shown not to reach the derivative
    relation = derivative.base_relation
    if relation is BaseRelation.ADAPTER or (relation is None and derivative.kind is ArtifactKind.ADAPTER):
        return license_.inherits_to_adapters
    return license_.inherits_to_finetunes


def resolve_lineages(
    artifacts: Mapping[str, Artifact], licenses: Mapping[str, CompiledLicense]
) -> dict[str, ArtifactLicenses]:
    """Effective license entries for every artifact, memoised so shared bases are walked once."""
    done: dict[str, ArtifactLicenses] = {}
    visiting: set[str] = set()

    def resolve(artifact_id: str) -> ArtifactLicenses:
        found = done.get(artifact_id)
        if found is not None:
            return found
        artifact = artifacts[artifact_id]
        visiting.add(artifact_id)
        problems: list[str] = []
        if artifact.license not in licenses:
            problems.append(f"artifact {artifact_id!r}: license {artifact.license!r} is not in the catalog")
        applied = [
            AppliedLicense(
                license=artifact.license,
                artifact=artifact_id,
                via=AppliedVia.OWN,
                source=artifact_id,
                path=(artifact_id,),
            )
        ]
        lineage = {artifact_id}
        creators: list[tuple[str, CreatorPermissions]] = []
        if artifact.creator_permissions is not None:
            creators.append((artifact_id, artifact.creator_permissions))
        for edge, via in [(b, AppliedVia.BASE) for b in artifact.bases] + [
            (c, AppliedVia.COMPONENT) for c in artifact.components
        ]:
            if edge in visiting:
                problems.append(f"artifact {artifact_id!r}: cycle through {edge!r}")
                continue
            if edge not in artifacts:
                problems.append(f"artifact {artifact_id!r}: {via.value} {edge!r} is not in the catalog")
                continue
            parent = resolve(edge)
            problems.extend(parent.problems)
            for entry in parent.applied:
                if via is AppliedVia.BASE:
                    if entry.via is AppliedVia.COMPONENT:
                        continue  # a base's text encoder is not part of the derivative
                    if not _inherits(licenses.get(entry.license), artifact):
                        continue
                applied.append(
                    AppliedLicense(
                        license=entry.license,
                        artifact=artifact_id,
                        via=via,
                        source=entry.source,
                        path=(artifact_id, *entry.path),
                    )
                )
            if via is AppliedVia.BASE:
                lineage |= parent.lineage
                creators.extend(parent.creators)
        visiting.discard(artifact_id)
        unique = {(a.license, a.via, a.source): a for a in applied}
        result = ArtifactLicenses(
            artifact_id=artifact_id,
            applied=tuple(unique.values()),
            lineage=frozenset(lineage),
            creators=tuple(dict(creators).items()),
            problems=tuple(dict.fromkeys(problems)),
        )
        done[artifact_id] = result
        return result

    for artifact_id in artifacts:
        resolve(artifact_id)
    return done
