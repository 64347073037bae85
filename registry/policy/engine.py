"""A convenience around `evaluate`: holds the current snapshot and remembers recent decisions.

Sound only because `evaluate` is pure. A decision depends on the date and on the usage counted
this month only through the agreements whose usability it checked, so the cache key leaves both
out and a cached decision is reused only while every such agreement is usable (or not) for the
same reason as when it was made; the decision id is derived afresh for each request. Metered
requests (whose usage grows with every call) therefore still hit. Denies carrying alternatives
are not cached (their search reads other agreements). Swapping the snapshot drops the cache.
"""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import msgspec

from registry.catalog.entries import Agreement
from registry.policy.agreements import unusable_because
from registry.policy.decision import PolicyDecision
from registry.policy.evaluate import evaluate_tracked
from registry.policy.identity import derive_decision_id
from registry.policy.request import PolicyRequest
from registry.policy.snapshot import CatalogSnapshot

_DAY = dt.timedelta(days=1)


class _Checks(NamedTuple):
    """When a decision stays what it was: the dates between two boundaries of the agreements it
    checked (valid_from, the day after valid_until, revoked_at: the answer of each agreement
    changes only there) and, for those usable on such dates, the side of its monthly quota the
    usage is on."""

    since: dt.date | None
    until: dt.date | None
    """Exclusive."""
    quotas: tuple[tuple[str, int, bool], ...]
    """(agreement id, quota, exhausted)."""


def _checks(agreements: Iterable[Agreement], date: dt.date, usage: Mapping[str, int]) -> _Checks:
    since: dt.date | None = None
    until: dt.date | None = None
    quotas = []
    for agreement in agreements:
        points = [agreement.valid_from]
        if agreement.valid_until is not None:
            points.append(agreement.valid_until + _DAY)
        if agreement.revoked_at is not None:
            points.append(agreement.revoked_at)
        for point in points:
            if point <= date:
                since = point if since is None else max(since, point)
            else:
                until = point if until is None else min(until, point)
        quota = agreement.monthly_quota
        if quota is not None and unusable_because(agreement, date, {}) is None:
            quotas.append((agreement.id, quota, usage.get(agreement.id, 0) >= quota))
    return _Checks(since, until, tuple(quotas))


def _still_holds(checks: _Checks, date: dt.date, usage: Mapping[str, int]) -> bool:
    since, until, quotas = checks
    if (since is not None and date < since) or (until is not None and date >= until):
        return False
    for agreement_id, quota, exhausted in quotas:
        if (usage.get(agreement_id, 0) >= quota) is not exhausted:
            return False
    return True


class PolicyEngine:
    """Not thread-safe: give each worker thread its own engine (snapshots can be shared)."""

    def __init__(self, snapshot: CatalogSnapshot, *, cache_size: int = 4096) -> None:
        self._snapshot = snapshot
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[object, ...], tuple[PolicyDecision, _Checks]] = OrderedDict()

    @property
    def snapshot(self) -> CatalogSnapshot:
        return self._snapshot

    def replace_snapshot(self, snapshot: CatalogSnapshot) -> None:
        self._snapshot = snapshot
        self._cache.clear()

    def evaluate(self, request: PolicyRequest) -> PolicyDecision:
        """The same answer as `evaluate(request, engine.snapshot)`."""
        if self._cache_size <= 0:
            return evaluate_tracked(request, self._snapshot, None)
        key = (
            request.tenant_id,
            request.model_id,
            request.adapter_ids,
            request.runner_id,
            request.purpose,
            request.output_use,
            request.use_cases,
            request.end_user_regions,
            request.strict,
            request.profile_override,
            request.max_alternatives,
        )
        date, usage = request.date, request.usage_this_month
        found = self._cache.get(key)
        if found is not None:
            decision, checks = found
            if _still_holds(checks, date, usage):
                self._cache.move_to_end(key)
                decision_id = request.decision_id or derive_decision_id(
                    request, self._snapshot.version, decision.runner_id
                )
                return msgspec.structs.replace(decision, decision_id=decision_id)
        consulted: list[Agreement] = []
        decision = evaluate_tracked(request, self._snapshot, consulted)
        if not decision.alternatives:
            unique = {a.id: a for a in consulted}.values()
            self._cache[key] = (decision, _checks(unique, date, usage))
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return decision
