"""Client assertions (RFC 7523) are single use: their `jti` is remembered until they expire.

In memory, per process: a replay against another replica within the assertion's short lifetime
is not caught; the assertion still has to be signed by the client's key and aimed at us.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class AssertionReplayCache:
    def __init__(self, *, max_entries: int = 100_000, clock: Callable[[], float] = time.time) -> None:
        self._expiry_by_id: dict[str, float] = {}
        self._max_entries = max_entries
        self._clock = clock

    def first_use(self, assertion_id: str, expires_at: float) -> bool:
        now = self._clock()
        if len(self._expiry_by_id) >= self._max_entries:
            self._expiry_by_id = {key: exp for key, exp in self._expiry_by_id.items() if exp > now}
        seen = self._expiry_by_id.get(assertion_id)
        if seen is not None and seen > now:
            return False
        self._expiry_by_id[assertion_id] = expires_at
        return True
