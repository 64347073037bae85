"""The in-memory event hub keeps ended jobs' events for a while, bounded in time and count."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from gateway.jobs import events
from gateway.jobs.events import JobEventHub


async def test_ended_streams_are_kept_up_to_the_bound_oldest_forgotten_first(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(events, "_KEEP_ENDED", 3)
    hub = JobEventHub()
    for n in range(5):
        hub.open(f"job_{n}")
        hub.publish(f"job_{n}", "started", {})
        hub.publish(f"job_{n}", "completed", {})
    hub.open("job_live")
    hub.publish("job_live", "started", {})

    assert [hub.knows(f"job_{n}") for n in range(5)] == [False, False, True, True, True]
    assert hub.knows("job_live")  # a running job is never swept
    assert [e.type async for e in hub.follow("job_4")] == ["started", "completed"]


async def test_ended_streams_expire_after_the_keep_time(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter([100.0, 100.0 + events._KEEP_AFTER_END_S + 1])
    monkeypatch.setattr(events, "time", SimpleNamespace(monotonic=lambda: next(clock)))
    hub = JobEventHub()
    for job in ("old", "new"):
        hub.open(job)
        hub.publish(job, "completed", {})

    assert (hub.knows("old"), hub.knows("new")) == (False, True)
