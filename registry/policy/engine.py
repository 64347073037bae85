"""A convenience around `evaluate`: holds the current snapshot and remembers recent decisions.

Sound only because `evaluate` is pure. A decision depends on the date and on the usage counted
this month only through the agreements whose usability its judgements checked, so the cache key
leaves both out and a cached decision is reused only while every such agreement is usable (or
not) for the same reason as when it was made (the judgements' windows met: `windows_meet`); the
decision id is derived afresh for each request. Metered requests (whose usage grows with every
call) therefore still hit. A deny's alternatives are searched for on the request's date, so the
judgements of the search count too: an agreement starting later can add an alternative. Swapping
the snapshot drops the cache.

A decision is kept once its request is asked a second time (the first ask only notes the hash of
its key), or at once when it cost a search for alternatives: most requests a gateway sees are
asked once (a tenant, a stack, a purpose of a long tail), and keeping each of them would cost
every such request an entry made, another evicted, and more collections, while pushing out the
decisions that are asked again (a doorkeeper, as in TinyLFU).
"""

from __future__ import annotations

from collections import OrderedDict

import msgspec

from registry.policy._remembered import Doorkeeper
from registry.policy.agreements import UsabilityWindow, windows_meet
from registry.policy.decision import PolicyDecision
from registry.policy.evaluate import evaluate, evaluate_tracked
from registry.policy.identity import decision_id_after, decision_id_prefix
from registry.policy.keys import PLAIN, plain, use_cases_key
from registry.policy.request import PolicyRequest
from registry.policy.snapshot import CatalogSnapshot
from registry.vocabulary import Decision

_replace = msgspec.structs.replace
_DENY = Decision.DENY


class _Remembered(msgspec.Struct, frozen=True, gc=False):
    """A cached decision under its key (plain values): untracked, like the key, so a full cache
    adds nothing to what the collector walks."""

    key: tuple[object, ...]
    decision: PolicyDecision
    holds_while: UsabilityWindow
    id_prefix: bytes
    """`identity.decision_id_prefix` of the snapshot and the decision's runner."""


class PolicyEngine:
    """Not thread-safe: give each worker thread its own engine (snapshots can be shared)."""

    def __init__(self, snapshot: CatalogSnapshot, *, cache_size: int = 4096) -> None:
        self._snapshot = snapshot
        self._cache_size = cache_size
        # by the hash of the key, least recently used first; its entries are untracked (`keys.Memo`),
        # and a key that shares a hash replaces the entry
        self._cache: OrderedDict[int, _Remembered] = OrderedDict()
        # the doorkeeper: hashes of the keys asked since it was last cleared, those of the kept
        # decisions among them; a hash shared by two keys only lets a decision in early, `cache`
        # still compares keys
        self._asked = Doorkeeper(max(2 * cache_size, 1))

    @property
    def snapshot(self) -> CatalogSnapshot:
        return self._snapshot

    @property
    def kept(self) -> int:
        """How many decisions the engine keeps."""
        return len(self._cache)

    def replace_snapshot(self, snapshot: CatalogSnapshot) -> None:
        self._snapshot = snapshot
        self._cache.clear()
        self._asked.clear()

    def evaluate(self, request: PolicyRequest) -> PolicyDecision:
        """The same answer as `evaluate(request, engine.snapshot)`."""
        if self._cache_size <= 0:
            return evaluate_tracked(request, self._snapshot, None)
        snapshot = self._snapshot
        # the key's hash when asked before; at a first ask, the C path's decision, or None
        answer = self._asked.first_ask(request, snapshot)
        if isinstance(answer, PolicyDecision):
            return answer
        if answer is None:
            # A first ask (or one whose note a clearing dropped): the cache is not looked at, the
            # doorkeeper being the smaller of the two and most requests being asked once. Every
            # kept decision stays noted until a clearing, after which it is decided afresh once.
            if not request.max_alternatives:
                return evaluate(request, snapshot)  # nothing kept: no windows needed
            windows: list[UsabilityWindow] = []
            decision = evaluate_tracked(request, snapshot, windows)
            if decision.decision is not _DENY:
                return decision  # kept if asked again; at once only when it cost a search
            hashed = self._asked.key_hash(request)
            key = _key(request)
        else:
            hashed = answer
            key = _key(request)
            found = self._cache.get(hashed)
            if (
                found is not None
                and found.key == key
                and found.holds_while.holds(request.date, request.usage_this_month)
            ):
                self._cache.move_to_end(hashed)
                return _replace(
                    found.decision,
                    decision_id=request.decision_id or decision_id_after(found.id_prefix, request),
                )
            windows = []
            decision = evaluate_tracked(request, snapshot, windows)
        cache = self._cache
        stored = (key[0], key[1], key[2], key[3], PLAIN[request.purpose], PLAIN[request.output_use], *key[6:])
        cache.pop(hashed, None)  # one that no longer holds: the new one is the most recent
        cache[hashed] = _Remembered(
            stored, decision, windows_meet(windows), decision_id_prefix(snapshot.version, decision.runner_id)
        )
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
        return decision


def _key(request: PolicyRequest) -> tuple[object, ...]:
    """What a decision is kept under: the request but its date, usage and decision id (the parts
    `Doorkeeper` hashes, in its order). Vocabulary members hash and compare like their plain
    values (`keys`)."""
    use_cases, override = request.use_cases, request.profile_override
    return (
        request.tenant_id,
        request.model_id,
        request.adapter_ids,
        request.runner_id,
        request.purpose,
        request.output_use,
        use_cases_key(use_cases) if use_cases else (),
        request.end_user_regions,
        request.strict,
        plain(override) if override is not None else None,
        request.max_alternatives,
    )
