"""When to try again: an exponential schedule spread over hours, with jitter.

The default follows the Standard Webhooks recommendation (immediately, then 5 s, 5 min, 30 min,
2 h, 5 h, 10 h, 10 h), so a receiver that is down for a day still gets its events.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

DEFAULT_DELAYS_S: tuple[float, ...] = (5, 300, 1800, 7200, 18000, 36000, 36000)


class RetryScheduleError(ValueError):
    """A retry schedule setting that cannot be used."""


@dataclass(frozen=True)
class RetrySchedule:
    delays_s: tuple[float, ...] = DEFAULT_DELAYS_S
    """Delay before attempt 2, 3, ...; after the last one the message is given up."""
    jitter: float = 0.2
    """Each delay is multiplied by a random factor in [1 - jitter, 1 + jitter]."""

    def __post_init__(self) -> None:
        if any(d < 0 for d in self.delays_s):
            raise RetryScheduleError(f"retry delays must not be negative: {self.delays_s}")
        if not 0 <= self.jitter < 1:
            raise RetryScheduleError(f"retry jitter must be in [0, 1): {self.jitter}")

    @classmethod
    def parse(cls, text: str, *, jitter: float = 0.2) -> RetrySchedule:
        """`"5,300,1800"` (seconds) as found in a setting."""
        try:
            delays = tuple(float(part) for part in text.split(",") if part.strip())
        except ValueError as exc:
            raise RetryScheduleError(f"retry schedule {text!r}: {exc}") from exc
        return cls(delays_s=delays, jitter=jitter)

    @property
    def max_attempts(self) -> int:
        return len(self.delays_s) + 1

    def next_attempt_after(self, attempts_made: int, now: dt.datetime) -> dt.datetime | None:
        """When to try after `attempts_made` failed attempts, or None when it is time to give up."""
        if attempts_made < 1 or attempts_made > len(self.delays_s):
            return None
        delay = self.delays_s[attempts_made - 1]
        factor = random.uniform(1 - self.jitter, 1 + self.jitter) if self.jitter else 1.0
        return now + dt.timedelta(seconds=delay * factor)
