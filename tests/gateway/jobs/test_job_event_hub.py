"""The in-memory event hub keeps ended jobs' events for a while, bounded in time and count."""

from __future__ import annotations

import asyncio
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


async def test_a_follower_waiting_for_the_next_event_gets_each_one_published_later() -> None:
    hub = JobEventHub()
    hub.open("job_1")
    hub.publish("job_1", "queued", {})
    seen: list[str] = []

    async def follow() -> None:
        async for event in hub.follow("job_1"):
            seen.append(event.type)

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0)  # the follower has read "queued" and waits
    for type_ in ("started", "progress", "completed"):
        hub.publish("job_1", type_, {})
        await asyncio.sleep(0)
    await asyncio.wait_for(follower, 1)
    assert seen == ["queued", "started", "progress", "completed"]
