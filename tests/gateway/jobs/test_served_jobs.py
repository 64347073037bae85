"""The jobs API served for real: `clearance serve` under uvicorn on loopback, Server-Sent Events
over a real socket, cancel between steps, and a crash: SIGKILL mid-job, restart, every job ends
exactly once (the running one, on a local runner, queued again and run from the start; the
queued one run) and `clearance audit verify` passes. One test, so the server starts twice rather
than three times."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from registry.audit import EventKind
from registry.audit.tables import AuditEventRow
from registry.db.engine import create_engine, session_factory
from tests.gateway.auth.conftest import PEPPER, create_client, make_settings
from tests.gateway.jobs.conftest import PROVIDER_FLUX2, PROVIDER_KEY, JobsWorld, copy_database, sd_job
from tests.support_served import CLI, free_port


class Served:
    def __init__(self, world: JobsWorld, directory: Path) -> None:
        self.directory = directory
        self.database_url = copy_database(world, directory)
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "CLEARANCE_DATA_DIR": str(directory / "data"),
            "CLEARANCE_DATABASE_URL": self.database_url,
            "CLEARANCE_ISSUER": self.base,
            "CLEARANCE_SECRET_PEPPER": PEPPER,
            "CLEARANCE_JOB_LEASE_SECONDS": "1",
            "CLEARANCE_PROVIDER_API_KEYS": f"{PROVIDER_FLUX2}={PROVIDER_KEY}",
            "CLEARANCE_OUTBOUND_ALLOW_HTTP": "true",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.token = ""

    @contextmanager
    def running(self) -> Iterator[Served]:
        log = (self.directory / "server.log").open("ab")
        self.process = subprocess.Popen(
            [*CLI, "serve", "--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 90
            while True:
                assert self.process.poll() is None, (self.directory / "server.log").read_text()
                try:
                    if httpx.get(f"{self.base}/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "server did not become ready"
                time.sleep(0.2)
            yield self
        finally:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                self.process.wait(timeout=60)
            log.close()

    def server_log(self) -> str:
        """The served gateway's own log (its tracebacks), for a failure's message."""
        path = self.directory / "server.log"
        return path.read_text()[-8000:] if path.exists() else "(no server log)"

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def login(self, tenant: str = "studio") -> None:
        settings = make_settings(self.directory / "data", self.database_url, issuer=self.base)
        client = asyncio.run(create_client(settings, tenant=tenant, scopes="jobs:write jobs:read"))
        assert client.client_secret is not None
        response = httpx.post(
            f"{self.base}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client.client_id, client.client_secret),
        )
        assert response.status_code == 200, f"{response.text}\n{self.server_log()}"
        self.token = response.json()["access_token"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"{self.base}/v1/jobs", json=body, headers=self.headers, timeout=30)
        assert response.status_code == 202, f"{response.text}\n{self.server_log()}"
        job: dict[str, Any] = response.json()
        return job

    def follow_until(self, job: dict[str, Any], wanted: str) -> list[str]:
        """Read the job's SSE stream over the socket until an event of type `wanted`."""
        seen = []
        with httpx.stream(
            "GET", f"{self.base}{job['links']['events']}", headers=self.headers, timeout=60
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                    if seen[-1] == wanted:
                        break
        return seen

    def wait_for(self, job_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + 120
        while True:
            job: dict[str, Any] = httpx.get(
                f"{self.base}/v1/jobs/{job_id}", headers=self.headers, timeout=10
            ).json()
            if job["status"] not in ("queued", "running"):
                return job
            assert time.monotonic() < deadline, job
            time.sleep(0.1)


def outcome_events(database_url: str, kind: EventKind = EventKind.JOB_OUTCOME) -> dict[str, int]:
    async def read() -> dict[str, int]:
        engine = create_engine(database_url)
        try:
            async with session_factory(engine)() as session:
                rows = (await session.scalars(select(AuditEventRow).where(AuditEventRow.kind == kind))).all()
        finally:
            await engine.dispose()
        counts: dict[str, int] = {}
        for row in rows:
            counts[row.job_id or ""] = counts.get(row.job_id or "", 0) + 1
        return counts

    return asyncio.run(read())


def test_served_events_cancel_then_sigkill_mid_job_and_restart_end_every_job_once(
    jobs_world: JobsWorld, tmp_path: Path
) -> None:
    served = Served(jobs_world, tmp_path)
    with served.running():
        served.login()
        quick = served.submit(sd_job(steps=3))
        events = served.follow_until(quick, "completed")
        assert events[:2] == ["queued", "started"]
        assert events.count("progress") == 3
        assert "image" in events
        slow = served.submit(sd_job(steps=100))
        assert served.follow_until(slow, "progress")[-1] == "progress"
        canceled = httpx.post(f"{served.base}{slow['links']['cancel']}", headers=served.headers)
        assert canceled.status_code == 202
        assert served.wait_for(slow["id"])["status"] == "canceled"

        interrupted = served.submit(sd_job(steps=100))
        waiting = served.submit(sd_job(steps=2))  # behind it: the runner has capacity 1
        assert served.follow_until(interrupted, "progress")[-1] == "progress"
        served.kill()
    with served.running():
        # On a local runner the interrupted job is queued again and runs from the start.
        rerun = served.wait_for(interrupted["id"])
        assert rerun["status"] == "succeeded", rerun
        assert rerun["restarts"] == 1
        recovered = served.wait_for(waiting["id"])
        assert recovered["status"] == "succeeded", recovered
        png = httpx.get(f"{served.base}{recovered['images'][0]}", headers=served.headers)
        assert png.status_code == 200
    assert outcome_events(served.database_url) == {
        quick["id"]: 1,
        slow["id"]: 1,
        interrupted["id"]: 1,
        waiting["id"]: 1,
    }
    assert outcome_events(served.database_url, EventKind.JOB_REQUEUED) == {interrupted["id"]: 1}
    verify = subprocess.run(
        [*CLI, "audit", "verify"], env=served.env, capture_output=True, text=True, timeout=120
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert verify.stdout.startswith("ok:"), verify.stdout
