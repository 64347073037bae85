"""Judgements of one license remembered for the situations that repeat from one request to the
next: the operator's (the same party every time, remembered per window of dates in which the
agreements it checked answer the same way) and a tenant's whenever none of its agreements can
change it (then it depends only on the facts its `FactReader` reads, and is shared by every
stack the license is part of). Judgements that rely on a tenant's own agreements are made
afresh."""

from __future__ import annotations

import datetime as dt
import struct
from bisect import bisect_left, bisect_right
from collections.abc import Mapping

import msgspec

from registry.policy.agreements import (
    ALWAYS,
    AgreementNames,
    HolderAgreements,
    UsabilityWindow,
    usability_window,
)
from registry.policy.conditions import PartyContext
from registry.policy.decision import ObligationDue, Party, Reason
from registry.policy.judge import (
    PERMIT_,
    LicenseSteps,
    Verdict,
    judge_license_terms,
    replay_license_terms,
)
from registry.policy.keys import Memo, keep, recall_kept
from registry.policy.snapshot import MEMO_PER_USE, LicenseUse
from registry.vocabulary import OutputUse, Purpose, UseCase

_OPERATOR = Party.OPERATOR
_NO_AGREEMENTS = HolderAgreements()


class Judgement(msgspec.Struct, frozen=True, eq=False, gc=False):
    """What one license (or a whole stack of them) said about a party in one situation; compared
    and hashed by identity, so remembered judgements can key further memos cheaply, and never
    tracked by the collector (they form no cycles), so memos full of them cost collections
    nothing."""

    reasons: tuple[Reason, ...]
    obligations: tuple[ObligationDue, ...]
    agreements: tuple[str, ...]
    worst: int
    window: UsabilityWindow
    consulted: tuple[int, ...]
    """Positions (in `HolderAgreements.held`, the snapshot's `all_agreements`) of the agreements
    whose usability was checked."""
    same_as: Judgement | None = None
    """An earlier judgement saying exactly the same over another window of dates: memos keyed by
    judgements use it, so a decision made beside one serves beside the other."""
    parts: tuple[Judgement, ...] = ()
    """The judgement of each license of a stack (then its creator flags) that this one puts
    together, kept on the judgement every tenant with the same facts gets without agreements
    (`party.tenant_judgement`); empty elsewhere."""
    open_to: AgreementNames | None = None
    """With `parts`: what a tenant's agreement would have to name to change it
    (`party.open_to_agreements`)."""
    failing: tuple[int, ...] = ()
    """With `open_to`: the positions in `parts` of the licenses it comes from, those that fail
    to hold and would look for an agreement (`party.judged_with_agreements` judges them again)."""


def operator_judgement_of(
    use: LicenseUse,
    ctx: PartyContext,
    index: HolderAgreements,
    usage: Mapping[str, int],
    date: dt.date,
    use_cases: frozenset[UseCase],
    situation: tuple[object, ...],
    grants_apply: bool,
) -> Judgement:
    """All a license says about the operator (see `judge.judge_license_terms`), the same party in
    every request: remembered on the license use, and on the license for every stack it is part
    of while no agreement of the operator for it names artifacts. `situation` is what the
    judgement reads besides the license (`ctx.key`, the use cases as `keys.use_cases_key`, no
    output use), the same for every license of a stack. A tenant's judgements are made afresh:
    those no agreement takes part in are remembered by the facts they read
    (`shared_tenant_judgement`), the others rely on the tenant's own agreements."""
    key = (*situation, grants_apply)  # keys of plain values (`keys`)
    memo = use.memo
    found = recall(memo, key, date, usage)
    if found is not None:
        return found
    lic = use.license
    assert lic is not None
    if not index.by_artifact and lic.family not in index.families_naming_artifacts:
        # finding its agreement reads nothing of the artifacts the license applies to
        # (`agreements.covering_agreement`): the stack only names them in the reasons, so the
        # judgement is shared by every stack
        shared_key = (use.restrictions_bind, key)
        shared = recall(lic.operator_judgements, shared_key, date, usage)
        if shared is None:
            shared = judged_afresh(use, ctx, index, usage, date, use_cases, None, grants_apply)
            remember(lic.operator_judgements, shared_key, shared, MEMO_PER_USE)
        judgement = _naming(shared, use.artifacts)
    else:
        judgement = judged_afresh(use, ctx, index, usage, date, use_cases, None, grants_apply)
    remember(memo, key, judgement, MEMO_PER_USE)
    return judgement


def _naming(judgement: Judgement, artifacts: tuple[str, ...]) -> Judgement:
    """`judgement` of a license, made on another stack, with its reasons naming `artifacts`."""
    return msgspec.structs.replace(
        judgement,
        reasons=tuple(
            [
                r if r.artifacts == artifacts else msgspec.structs.replace(r, artifacts=artifacts)
                for r in judgement.reasons
            ]
        ),
    )


def shared_tenant_judgement(use: LicenseUse, facts: tuple[object, ...]) -> Judgement | None:
    """The judgement of a tenant without agreements that another stack made of this license for
    the same `facts` (`judge_without_agreements`), given `use`'s artifacts, or None. Such a
    judgement reads nothing of the stack but which artifacts the license applies to (named in
    its reasons) and whether its use restrictions bind."""
    lic = use.license
    assert lic is not None
    shared: Judgement | None = recall_kept(lic.judgements, (use.restrictions_bind, facts))
    return None if shared is None else _naming(shared, use.artifacts)


def judge_without_agreements(
    use: LicenseUse,
    facts: tuple[object, ...],
    ctx: PartyContext,
    date: dt.date,
    use_cases: frozenset[UseCase],
    output_use: OutputUse | None,
    grants_apply: bool,
) -> Judgement:
    """The license judged for a tenant no agreement of which takes part, remembered on the
    license for every stack it is part of (`shared_tenant_judgement`) under `facts`: all that
    the judgement reads (the purpose, the output use where the license speaks about it, the use
    cases, whether grants apply and what the license's `FactReader` reads of the tenant)."""
    lic = use.license
    assert lic is not None
    judgement = judged_afresh(use, ctx, _NO_AGREEMENTS, {}, date, use_cases, output_use, grants_apply)
    keep(lic.judgements, (use.restrictions_bind, facts), judgement, MEMO_PER_USE)
    return judgement


def judged_afresh(
    use: LicenseUse,
    ctx: PartyContext,
    index: HolderAgreements,
    usage: Mapping[str, int],
    date: dt.date,
    use_cases: frozenset[UseCase],
    output_use: OutputUse | None,
    grants_apply: bool,
    *,
    windowed: bool = True,
) -> Judgement:
    """The license judged for a party (`judge.judge_license_terms`), with the window of dates in
    which the agreements it checked answer the same way when `windowed` (a judgement to be
    remembered); a tenant's that relies on its own agreements is not remembered."""
    checking: list[int] = []
    verdict = Verdict(ctx, index, usage, checking)
    judge_license_terms(use, verdict, date, use_cases, output_use, grants_apply)
    return _judgement_of(verdict, checking, date, windowed)


def judged_with_own_agreements(
    use: LicenseUse, steps: LicenseSteps, index: HolderAgreements, usage: Mapping[str, int], date: dt.date
) -> Judgement:
    """`judged_afresh` for a tenant (not windowed: not remembered) from the license's `steps` for
    the tenant's facts (`judge.license_steps`): only what its agreements could change is judged."""
    checking: list[int] = []
    verdict = Verdict(steps.ctx, index, usage, checking)
    replay_license_terms(use, steps, verdict, date)
    return _judgement_of(verdict, checking, date, False)


def _judgement_of(verdict: Verdict, checking: list[int], date: dt.date, windowed: bool) -> Judgement:
    consulted = tuple(dict.fromkeys(checking))  # grant and output terms may check the same
    reasons = tuple(verdict.reasons)
    return Judgement(
        reasons=reasons,
        obligations=tuple(verdict.obligations),
        # an agreement relied on is one whose usability was checked (from a list: faster than a
        # generator)
        agreements=(
            tuple(dict.fromkeys([a for r in reasons for a in r.agreements if r.effect is PERMIT_]))
            if consulted
            else ()
        ),
        worst=verdict.worst,
        window=(
            usability_window([verdict.index.held[p] for p in consulted], date, verdict.usage)
            if consulted and windowed
            else ALWAYS
        ),
        consulted=consulted,
    )


class Dated(msgspec.Struct, gc=False):
    """The judgements remembered under one key that checked agreements, by the first day of
    their window: requests spread over many dates (agreements start and end on different days)
    find theirs by bisection. Tuples, replaced whole, so that nothing here is tracked by the
    collector and a thread reading meanwhile never indexes past the end."""

    starts: tuple[dt.date, ...] = ()
    judgements: tuple[Judgement, ...] = ()
    packed: tuple[bytes, tuple[Judgement, ...], tuple[Judgement, ...]] = (b"", (), ())
    """For the C path (`_remembered.c`), in one tuple replaced whole so that its parts always
    agree: each window's first and last days and whether it holds without usage and has quotas
    (`WINDOW_LAYOUT`), what each judgement says (`Judgement.same_as`, or itself) and the
    judgements. One read of a few bytes instead of the dates', the judgements' and their windows'
    objects, seldom in the CPU's caches."""

    def add(self, judgement: Judgement) -> None:
        start = judgement.window.since or dt.date.min
        starts, judgements = self.starts, self.judgements
        i = bisect_left(starts, start)
        if i < len(starts) and starts[i] == start:
            judgements = (*judgements[:i], judgement, *judgements[i + 1 :])
            self.judgements = judgements
        elif len(starts) < _WINDOWS_PER_KEY:
            # judgements first: a thread reading in between finds a judgement of the same key,
            # which `recall` still checks
            judgements = (*judgements[:i], judgement, *judgements[i:])
            self.judgements = judgements
            self.starts = (*starts[:i], start, *starts[i:])
        else:
            return
        self.packed = (
            b"".join(_packed_window(j.window) for j in judgements),
            tuple([j.same_as or j for j in judgements]),
            judgements,
        )


WINDOW_LAYOUT = struct.Struct("<iiI")
"""A window as the C path reads it: its first day and the day after its last (`day_number`;
none: the lowest and highest), then flags: 1 when it holds without usage (`idle_holds`), 2 when
it has quotas (usage must then be checked against the window itself)."""
_NO_END = 2**31 - 1


def day_number(date: dt.date) -> int:
    """A number per day that orders as dates do (year, month and day in bits, as the C path
    makes it: not a count of days)."""
    return date.year << 9 | date.month << 5 | date.day


def _packed_window(window: UsabilityWindow) -> bytes:
    return WINDOW_LAYOUT.pack(
        day_number(window.since or dt.date.min),
        _NO_END if window.until is None else day_number(window.until),
        (1 if window.idle_holds else 0) | (2 if window.quota_ids else 0),
    )


_WINDOWS_PER_KEY = 64


def recall(memo: Memo, key: tuple[object, ...], date: dt.date, usage: Mapping[str, int]) -> Judgement | None:
    """The judgement remembered under `key` that still holds on `date` with `usage`."""
    judgement = memo.get(key)
    if judgement is None:
        return None
    if type(judgement) is Dated:  # by bisection on the first days of its windows
        i = bisect_right(judgement.starts, date) - 1
        if i < 0:
            return None
        judgement = judgement.judgements[i]
    window = judgement.window
    return judgement if window is ALWAYS or window.holds(date, usage) else None


def remember(memo: Memo, key: tuple[object, ...], judgement: Judgement, limit: int) -> None:
    """Remember `judgement` under `key` (plain values) for the window of dates it holds in."""
    if judgement.window is ALWAYS:
        keep(memo, key, judgement, limit)
        return
    dated = recall_kept(memo, key)
    if type(dated) is not Dated:
        dated = Dated()
        keep(memo, key, dated, limit)
    dated.add(judgement)


def may_take_agreement(
    use: LicenseUse, purpose: Purpose, output_use: OutputUse | None, grants_apply: bool
) -> bool:
    """Whether an agreement covering the license could be looked for: its grant for the purpose,
    or its output term, does not hold outright."""
    lic = use.license
    assert lic is not None
    if lic.unknown or not grants_apply:
        return False
    plan = lic.plans[purpose]
    if plan.conditions or plan.severity:
        return True
    out_plan = lic.output_plans.get(output_use) if output_use is not None else None
    return out_plan is not None and bool(out_plan.conditions or out_plan.severity)
