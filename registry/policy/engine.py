"""A convenience around `evaluate`: holds the current snapshot and remembers recent decisions.

Sound only because `evaluate` is pure. A decision depends on the date and on the usage counted
this month only through the agreements whose usability it checked, so the cache key leaves both
out and a cached decision is reused only while every such agreement is usable (or not) for the
same reason as when it was made; the decision id is derived afresh for each request. Metered
requests (whose usage grows with every call) therefore still hit. Denies carrying alternatives
are not cached (their search reads other agreements). Swapping the snapshot drops the cache.
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec

from registry.catalog.entries import Agreement
from registry.policy.agreements import UsabilityWindow, usability_window
from registry.policy.decision import PolicyDecision
from registry.policy.evaluate import evaluate_tracked
from registry.policy.identity import derive_decision_id
from registry.policy.request import PolicyRequest
from registry.policy.snapshot import CatalogSnapshot


class PolicyEngine:
    """Not thread-safe: give each worker thread its own engine (snapshots can be shared)."""

    def __init__(self, snapshot: CatalogSnapshot, *, cache_size: int = 4096) -> None:
        self._snapshot = snapshot
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[object, ...], tuple[PolicyDecision, UsabilityWindow]] = OrderedDict()

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
            if checks.holds(date, usage):
                self._cache.move_to_end(key)
                decision_id = request.decision_id or derive_decision_id(
                    request, self._snapshot.version, decision.runner_id
                )
                return msgspec.structs.replace(decision, decision_id=decision_id)
        consulted: list[Agreement] = []
        decision = evaluate_tracked(request, self._snapshot, consulted)
        if not decision.alternatives:
            unique = {a.id: a for a in consulted}.values()
            self._cache[key] = (decision, usability_window(unique, date, usage))
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return decision
