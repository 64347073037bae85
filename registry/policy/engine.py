"""A convenience around `evaluate`: holds the current snapshot and remembers recent decisions.

The cache is only sound because `evaluate` is pure: the same request on the same snapshot gets
the same decision. Swapping the snapshot drops the cache.
"""

from __future__ import annotations

from collections import OrderedDict

from registry.policy.decision import PolicyDecision
from registry.policy.evaluate import evaluate
from registry.policy.identity import canonical_request
from registry.policy.request import PolicyRequest
from registry.policy.snapshot import CatalogSnapshot


class PolicyEngine:
    """Not thread-safe: give each worker thread its own engine (snapshots can be shared)."""

    def __init__(self, snapshot: CatalogSnapshot, *, cache_size: int = 4096) -> None:
        self._snapshot = snapshot
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, PolicyDecision] = OrderedDict()

    @property
    def snapshot(self) -> CatalogSnapshot:
        return self._snapshot

    def replace_snapshot(self, snapshot: CatalogSnapshot) -> None:
        self._snapshot = snapshot
        self._cache.clear()

    def evaluate(self, request: PolicyRequest) -> PolicyDecision:
        if self._cache_size <= 0:
            return evaluate(request, self._snapshot)
        key = canonical_request(request)
        found = self._cache.get(key)
        if found is not None:
            self._cache.move_to_end(key)
            return found
        decision = evaluate(request, self._snapshot)
        self._cache[key] = decision
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return decision


__all__ = ["PolicyEngine"]
