"""Agreements indexed per holder by license family and by artifact, and the rules that make one
usable on a date: validity dates inclusive, revocation from its date on, monthly quota."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import msgspec

from registry.catalog.entries import Agreement
from registry.vocabulary import Purpose


class HolderAgreements(msgspec.Struct, frozen=True, gc=False):
    """One holder's agreements by what they cover, as positions in `held` (every agreement of
    the catalog). Made of what the collector does not walk (positions, dicts of plain strings):
    every tenant met gets one, and each object named in a tracked container costs every full
    collection a visit."""

    held: tuple[Agreement, ...] = ()
    """Every agreement of the catalog (`CatalogSnapshot.all_agreements`), shared."""
    by_family: dict[str, tuple[int, ...]] = {}
    """Positions in `held` of the agreements naming each license family."""
    by_artifact: dict[str, tuple[int, ...]] = {}
    """Positions in `held` of the agreements naming artifacts but no family, by artifact."""
    grants: dict[str, None] = {}
    """`grant_key` of every purpose and family of `by_family` (or artifact of `by_artifact`)
    with an agreement granting that purpose: an agreement that does not grant the purpose is
    never looked at, so it cannot change a judgement."""
    families_naming_artifacts: dict[str, None] = {}
    """The families of `by_family` one of whose agreements also names artifacts: finding an
    agreement for a license of another family reads nothing of the artifacts it applies to
    (`judgement_memo.operator_judgement_of`)."""

    def grants_any(self, names: AgreementNames) -> bool:
        """Whether an agreement of the holder grants a purpose for one of `names` (the artifact
        keys are only looked at when an agreement of the holder names artifacts but no family).
        Given the names of a license's family and the artifacts it applies to, an
        over-approximation of `covering_agreement`: when False, it finds and consults nothing."""
        grants = self.grants
        if not grants:
            return False
        keys = grants.keys()
        if not keys.isdisjoint(names.families):
            return True
        return bool(self.by_artifact) and not keys.isdisjoint(names.artifacts)

    @classmethod
    def index(cls, held: tuple[Agreement, ...], positions: Iterable[int]) -> HolderAgreements:
        """The agreements at `positions` of `held` (one holder's)."""
        by_family: dict[str, list[int]] = {}
        by_artifact: dict[str, list[int]] = {}
        grants: dict[str, None] = {}
        naming_artifacts: dict[str, None] = {}
        for position in positions:
            agreement = held[position]
            covers = agreement.covers
            names = covers.license_families
            if names:
                by_key, kind = by_family, FAMILY
                if covers.artifacts:
                    naming_artifacts.update(dict.fromkeys(names))
            else:
                names, by_key, kind = covers.artifacts, by_artifact, ARTIFACT
            for name in names:
                found = by_key.get(name)
                if found is None:
                    by_key[name] = [position]
                else:
                    found.append(position)
                for purpose in agreement.purposes:
                    grants[grant_key(kind, purpose, name)] = None
        return cls(
            held,
            {k: tuple(v) for k, v in by_family.items()},
            {k: tuple(v) for k, v in by_artifact.items()},
            grants,
            naming_artifacts,
        )


FAMILY, ARTIFACT = "f", "a"


class AgreementNames(msgspec.Struct, frozen=True, gc=False):
    """License families and artifacts, for one purpose, as keys of `HolderAgreements.grants`
    (`grant_key`): what an agreement would have to name to change a judgement."""

    families: tuple[str, ...]
    artifacts: tuple[str, ...]


def grant_key(kind: str, purpose: str, name: str) -> str:
    """An agreement of the holder granting `purpose` names `name`, a license family (`FAMILY`)
    or an artifact (`ARTIFACT`): one string, so that the set of them is a dict the collector does
    not track."""
    return f"{kind}\x00{purpose}\x00{name}"


def group_by_holder(
    agreements: tuple[Agreement, ...],
) -> tuple[dict[str, list[Agreement]], dict[str, list[int]]]:
    """One pass over all agreements: each holder's, and their positions (each holder's index is
    built when first needed)."""
    holders: dict[str, list[Agreement]] = {}
    positions: dict[str, list[int]] = {}
    for position, agreement in enumerate(agreements):
        held = holders.get(agreement.holder)
        if held is None:
            holders[agreement.holder] = [agreement]
            positions[agreement.holder] = [position]
        else:
            held.append(agreement)
            positions[agreement.holder].append(position)
    return holders, positions


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
    coverage: tuple[str, ...],
    purpose: Purpose,
    date: dt.date,
    usage: Mapping[str, int],
    unusable: list[str],
    consulted: list[int] | None = None,
) -> Agreement | None:
    """The usable agreement with the lowest id that grants `purpose` and covers the license family
    (and, when it names artifacts, one of `coverage`: the artifact or any of its bases), or an
    artifact of `coverage` when it names no family; appends to `unusable` why covering
    agreements could not be used, and to `consulted` the positions (in `index.held`) of those
    whose usability it checked."""
    best: Agreement | None = None
    held = index.held
    for position in index.by_family.get(family, ()):
        agreement = held[position]
        named = agreement.covers.artifacts
        if named and all(artifact not in coverage for artifact in named):
            continue
        if purpose not in agreement.purposes:
            continue
        if consulted is not None:
            consulted.append(position)
        why = unusable_because(agreement, date, usage)
        if why is not None:
            unusable.append(why)
        elif best is None or agreement.id < best.id:
            best = agreement
    if index.by_artifact:
        for artifact in coverage:
            for position in index.by_artifact.get(artifact, ()):
                agreement = held[position]
                if purpose not in agreement.purposes:
                    continue
                if consulted is not None:
                    consulted.append(position)
                why = unusable_because(agreement, date, usage)
                if why is not None:
                    unusable.append(why)
                elif best is None or agreement.id < best.id:
                    best = agreement
    return best


_DAY = dt.timedelta(days=1)


class UsabilityWindow(msgspec.Struct, frozen=True, gc=False):
    """How long a judgement that checked some agreements stays what it was: the dates between two
    boundaries of those agreements (valid_from, the day after valid_until, revoked_at: where an
    agreement's answer can change) and, for those usable on such dates, the side of its monthly
    quota the usage is on. Untracked by the collector: memos hold many."""

    since: dt.date | None
    until: dt.date | None
    """Exclusive."""
    quotas: tuple[tuple[str, int, bool], ...]
    """(agreement id, quota, exhausted)."""
    quota_ids: dict[str, None] = {}
    """The ids of `quotas`, as a set that the collector does not track: a usage is looked up in
    it without reading every id (which the CPU seldom has in its caches)."""
    idle_holds: bool = True
    """Whether the quotas answer as they did for a usage that counts none of them."""

    def holds(self, date: dt.date, usage: Mapping[str, int]) -> bool:
        """True when every checked agreement answers as it did."""
        since, until = self.since, self.until
        if (since is not None and date < since) or (until is not None and date >= until):
            return False
        if not usage:
            return self.idle_holds
        quota_ids = self.quota_ids
        for counted in usage:  # usage names an agreement or two
            if counted in quota_ids:
                break
        else:
            return self.idle_holds
        for agreement_id, quota, exhausted in self.quotas:
            if (usage.get(agreement_id, 0) >= quota) is not exhausted:
                return False
        return True


def usability_window(
    agreements: Iterable[Agreement], date: dt.date, usage: Mapping[str, int]
) -> UsabilityWindow:
    """The window of dates around `date` in which none of `agreements` starts, ends or is
    revoked, with the side of its monthly quota `usage` is on for each usable one that has one
    (`unusable_because` without usage, by dates alone: one a judgement checks)."""
    since: dt.date | None = None
    until: dt.date | None = None
    quotas = []
    for agreement in agreements:
        start, end = agreement.valid_from, agreement.valid_until
        usable = start <= date
        if usable:
            if since is None or start > since:
                since = start
        elif until is None or start < until:
            until = start
        # the first day it is no longer valid, the day it is revoked
        for stop in (end + _DAY if end is not None else None, agreement.revoked_at):
            if stop is None:
                continue
            if stop <= date:
                usable = False
                if since is None or stop > since:
                    since = stop
            elif until is None or stop < until:
                until = stop
        quota = agreement.monthly_quota
        if quota is not None and usable and quota > 0:  # a quota of 0 is used up by no usage
            quotas.append((agreement.id, quota, usage.get(agreement.id, 0) >= quota))
    return UsabilityWindow(
        since,
        until,
        tuple(quotas),
        {q[0]: None for q in quotas},
        not any(exhausted for _, _, exhausted in quotas),
    )


def windows_meet(windows: Iterable[UsabilityWindow]) -> UsabilityWindow:
    """The window in which all of `windows` hold, given windows worked out on one date with one
    usage (of judgements made together, or remembered and still holding): what
    `usability_window` gives for all their agreements together, each quota named once, without
    reading the agreements again."""
    bounded = [window for window in windows if window is not ALWAYS]
    if len(bounded) < 2:  # most judgements check no agreement, or one party's
        return bounded[0] if bounded else ALWAYS
    since: dt.date | None = None
    until: dt.date | None = None
    quotas: dict[str, tuple[str, int, bool]] = {}
    for window in bounded:
        start, end = window.since, window.until
        if start is not None and (since is None or start > since):
            since = start
        if end is not None and (until is None or end < until):
            until = end
        for quota in window.quotas:
            quotas.setdefault(quota[0], quota)
    listed = tuple(quotas.values())
    # lists, not generators, below: faster for a few items
    return UsabilityWindow(
        since, until, listed, dict.fromkeys(quotas), not any([exhausted for _, _, exhausted in listed])
    )


ALWAYS = UsabilityWindow(None, None, ())
"""The window of a judgement that checked no agreement."""
