"""A least-recently-used cache of values made of tensors, bounded by their bytes."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

import torch

V = TypeVar("V")


def tensor_bytes(tensors: Iterable[torch.Tensor]) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


class TensorCache(Generic[V]):
    """Keeps at most `max_bytes` of tensors (and `max_entries` values, when given), dropping the
    least recently used first; a value larger than `max_bytes` is not kept at all."""

    def __init__(self, max_bytes: int, max_entries: int | None = None) -> None:
        self._max_bytes = max_bytes
        self._max_entries = max_entries
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self.nbytes = 0
        """Bytes of tensors held now."""

    def get(self, key: Hashable) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]

    def put(self, key: Hashable, value: V, tensors: Iterable[torch.Tensor]) -> None:
        size = tensor_bytes(tensors)
        if size > self._max_bytes:
            return
        self._entries[key] = (value, size)
        self.nbytes += size
        while self.nbytes > self._max_bytes or (
            self._max_entries is not None and len(self._entries) > self._max_entries
        ):
            _, (_, dropped) = self._entries.popitem(last=False)
            self.nbytes -= dropped

    def clear(self) -> None:
        self._entries.clear()
        self.nbytes = 0
