"""Agreements indexed per holder by license family and by artifact, and the rules that make one
usable on a date: validity dates inclusive, revocation from its date on, monthly quota."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from registry.catalog.entries import Agreement
from registry.vocabulary import Purpose


@dataclass(slots=True)
class HolderAgreements:
    """One holder's agreements; lists are sorted by id so the first usable one is deterministic."""

    by_family: dict[str, list[Agreement]] = field(default_factory=dict)
    by_artifact: dict[str, list[Agreement]] = field(default_factory=dict)
    """Agreements naming artifacts but no family, by artifact."""


def index_agreements(agreements: Iterable[Agreement]) -> dict[str, HolderAgreements]:
    holders: dict[str, HolderAgreements] = {}
    for agreement in sorted(agreements, key=_agreement_id):
        index = holders.get(agreement.holder)
        if index is None:
            index = holders[agreement.holder] = HolderAgreements()
        families = agreement.covers.license_families
        if families:
            for family in families:
                index.by_family.setdefault(family, []).append(agreement)
        else:
            for artifact in agreement.covers.artifacts:
                index.by_artifact.setdefault(artifact, []).append(agreement)
    return holders


def _agreement_id(agreement: Agreement) -> str:
    return agreement.id


def unusable_because(agreement: Agreement, date: dt.date, usage: Mapping[str, int]) -> str | None:
    """Why a covering agreement cannot be relied on today, or None when it can."""
    if date < agreement.valid_from:
        return f"agreement {agreement.id!r} is valid only from {agreement.valid_from.isoformat()}"
    if agreement.valid_until is not None and date > agreement.valid_until:
        return f"agreement {agreement.id!r} expired after {agreement.valid_until.isoformat()}"
    if agreement.revoked_at is not None and date >= agreement.revoked_at:
        return f"agreement {agreement.id!r} was revoked on {agreement.revoked_at.isoformat()}"
    quota = agreement.monthly_quota
    if quota is not None and usage.get(agreement.id, 0) >= quota:
        return f"agreement {agreement.id!r} used its monthly quota of {quota}"
    return None


def covering_agreement(
    index: HolderAgreements,
    family: str,
    coverage: frozenset[str],
    purpose: Purpose,
    date: dt.date,
    usage: Mapping[str, int],
    unusable: list[str],
) -> Agreement | None:
    """The first usable agreement granting `purpose` that covers the license family (and, when
    it names artifacts, one of `coverage`: the artifact or any of its bases); appends to
    `unusable` why covering agreements could not be used."""
    for agreement in index.by_family.get(family, ()):
        named = agreement.covers.artifacts
        if named and coverage.isdisjoint(named):
            continue
        if purpose not in agreement.purposes:
            continue
        why = unusable_because(agreement, date, usage)
        if why is None:
            return agreement
        unusable.append(why)
    if index.by_artifact:
        for artifact in sorted(coverage):
            for agreement in index.by_artifact.get(artifact, ()):
                if purpose not in agreement.purposes:
                    continue
                why = unusable_because(agreement, date, usage)
                if why is None:
                    return agreement
                unusable.append(why)
    return None
