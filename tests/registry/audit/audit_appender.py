"""Child process for the multi-process tests: appends with an `AuditLog` and prints each
acknowledged sequence number on its own line (flushed), so the parent knows what was committed.
It prints `ready` once set up and starts appending when a line arrives on stdin.

    python audit_appender.py URL TASKS EVENTS_PER_TASK     (EVENTS_PER_TASK 0: until killed)
"""

from __future__ import annotations

import asyncio
import os
import sys

from registry.audit import AuditLog, NewEvent
from registry.db.engine import create_engine


async def main(url: str, tasks: int, per_task: int) -> None:
    engine = create_engine(url)
    out = sys.stdout
    async with AuditLog(engine) as log:

        async def writer(task: int) -> None:
            i = 0
            while per_task == 0 or i < per_task:
                event = await log.append(
                    NewEvent(kind="test.burst", payload={"pid": os.getpid(), "t": task, "i": i})
                )
                out.write(f"{event.seq}\n")
                out.flush()
                i += 1

        print("ready", flush=True)
        await asyncio.to_thread(sys.stdin.readline)  # "go": every child starts at once
        await asyncio.gather(*(writer(task) for task in range(tasks)))
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
