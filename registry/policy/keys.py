"""Memo keys made of plain values: str, int, float, bool, None and tuples of them.

The collector stops tracking a tuple whose items it cannot track, so memos keyed this way add
nothing to what every full collection walks; a key holding an enum member, a set or a catalog
struct stays tracked for as long as it is remembered. Vocabulary members are `StrEnum`s: they
hash and compare equal to their plain values, so a lookup may still use the members and only the
stored key needs to be plain.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

import msgspec

from registry.catalog.entries import TenantProfile
from registry.policy.decision import Party
from registry.vocabulary import OrganisationType, OutputUse, Purpose, UseCase

PLAIN: dict[object, object] = {
    member: member.value for kind in (Purpose, OutputUse, UseCase, Party, OrganisationType) for member in kind
}
"""Vocabulary member -> its plain value (None -> None)."""
PLAIN[None] = None

_USE_CASES: dict[frozenset[UseCase], tuple[str, ...]] = {}


def use_cases_key(use_cases: frozenset[UseCase]) -> tuple[str, ...]:
    """The declared use cases as a sorted tuple of plain values (few distinct sets: kept)."""
    if not use_cases:
        return ()
    found = _USE_CASES.get(use_cases)
    if found is None:
        found = tuple(sorted(u.value for u in use_cases))
        if len(_USE_CASES) >= 1_024:
            _USE_CASES.clear()
        _USE_CASES[frozenset(use_cases)] = found
    return found


def plain(value: Any) -> Any:
    """`value` with vocabulary members, sets and profiles replaced by plain values, tuples walked
    (sets become sorted tuples: only ever compared with keys made the same way)."""
    kind = type(value)
    if kind is tuple:
        return tuple(plain(v) for v in value)
    if isinstance(value, Enum):
        return value.value
    if kind is frozenset or kind is set:
        return tuple(sorted(plain(v) for v in value))
    if kind is TenantProfile:
        return plain(msgspec.structs.astuple(value))
    return value


class Kept(msgspec.Struct, frozen=True, gc=False):
    key: tuple[object, ...]
    value: Any


Memo = dict[int, Kept]
"""A memo by the hash of its key, each entry holding its key: a dict of ints to untracked
values is never tracked itself, so however many entries memos gain, full collections do not
walk them (a dict keyed by tuples is tracked again by every insertion). Two keys of one hash
keep the later entry; a lookup finds an entry only under its own key."""


def recall_kept(memo: Memo, key: tuple[object, ...]) -> Any:
    """The value kept under `key`, or None."""
    kept = memo.get(hash(key))
    if kept is not None and kept.key == key:
        return kept.value
    return None


def keep(memo: Memo, key: tuple[object, ...], value: object, limit: int) -> None:
    """Keep `value` under `key` (plain values: see above), starting afresh once `limit` entries
    are kept (bounded memory, no LRU cost)."""
    if len(memo) >= limit:
        memo.clear()
    memo[hash(key)] = Kept(key, value)
