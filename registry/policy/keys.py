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
from registry.policy import _remembered
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


Memo = _remembered.Memo
"""A memo of values by keys of plain values, in C (`_memo.c`): a hash table whose lookup reads
the entry and the stored key only, and which the collector never tracks however many entries it
gains (a dict keyed by tuples is tracked again by every insertion)."""


def recall_kept(memo: Memo, key: tuple[object, ...]) -> Any:
    """The value kept under `key`, or None."""
    return memo.get(key)


def keep(memo: Memo, key: tuple[object, ...], value: object, limit: int) -> None:
    """Keep `value` under `key` (plain values: see above), starting afresh once `limit` entries
    are kept (bounded memory, no LRU cost)."""
    memo.keep(key, value, limit)
