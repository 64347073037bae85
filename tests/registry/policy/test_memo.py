"""`keys.Memo`, the engine's memos in C (`registry/policy/_memo.c`)."""

from __future__ import annotations

import gc

import pytest

from registry.policy.keys import Memo, keep, recall_kept


def test_a_memo_gives_what_was_kept_under_an_equal_key() -> None:
    memo = Memo()
    assert recall_kept(memo, ("a", 1)) is None
    keep(memo, ("a", 1), "first", 100)
    keep(memo, ("a", (2, None)), "second", 100)
    assert recall_kept(memo, ("a", 1)) == "first"
    assert recall_kept(memo, tuple(["a", (2, None)])) == "second"  # equal, not the same object
    assert recall_kept(memo, ("a", 2)) is None
    keep(memo, ("a", 1), "replaced", 100)
    assert recall_kept(memo, ("a", 1)) == "replaced"
    assert len(memo) == 2


class _SameHash:
    """Keys that all hash alike: each found under its own key only."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __hash__(self) -> int:
        return 7

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _SameHash) and other.name == self.name


def test_keys_of_one_hash_are_each_found_under_their_own() -> None:
    memo = Memo()
    keys = [_SameHash(str(i)) for i in range(50)]
    for i, key in enumerate(keys):
        keep(memo, (key,), i, 1_000)
    assert [recall_kept(memo, (_SameHash(str(i)),)) for i in range(50)] == list(range(50))
    assert recall_kept(memo, (_SameHash("other"),)) is None


def test_a_memo_grows_and_starts_afresh_at_its_limit() -> None:
    memo = Memo()
    for i in range(10_000):
        keep(memo, (i, str(i)), i, 20_000)
    assert len(memo) == 10_000
    assert all(recall_kept(memo, (i, str(i))) == i for i in range(0, 10_000, 7))
    keep(memo, ("over",), 1, 10_000)  # full: starts afresh with this one
    assert len(memo) == 1
    assert recall_kept(memo, (5, "5")) is None
    assert recall_kept(memo, ("over",)) == 1
    memo.clear()
    assert len(memo) == 0
    assert recall_kept(memo, ("over",)) is None


class _Clearing:
    """A key whose comparison clears the memo it is compared in (what a Python `__eq__` may do)."""

    def __init__(self, memo: Memo) -> None:
        self.memo = memo

    def __hash__(self) -> int:
        return 11

    def __eq__(self, other: object) -> bool:
        self.memo.clear()
        return False


def test_a_memo_changed_while_it_compares_keys_stays_sound() -> None:
    memo = Memo()
    keep(memo, (_Clearing(memo),), "kept", 100)
    assert recall_kept(memo, (_Clearing(memo),)) is None
    keep(memo, (_Clearing(memo),), "again", 100)
    assert len(memo) == 1


def test_unhashable_keys_are_refused_and_change_nothing() -> None:
    memo = Memo()
    keep(memo, ("a",), 1, 10)
    with pytest.raises(TypeError):
        keep(memo, ([],), 2, 10)
    with pytest.raises(TypeError):
        recall_kept(memo, ([],))
    assert len(memo) == 1


def test_the_collector_never_tracks_a_memo() -> None:
    memo = Memo()
    keep(memo, ("a",), ("value",), 10)
    assert not gc.is_tracked(memo)
    with pytest.raises(TypeError):
        Memo(10)  # type: ignore[call-arg]
