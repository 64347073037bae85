"""Job and runner metrics: counters moved by the job events this process publishes (see
`JobEventHub`'s observer), gauges read from the runner pool and the executor at scrape time."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any, Protocol, runtime_checkable

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.jobs.pool import PooledRunner
from gateway.metrics.tables import CounterTable, HistogramTable

RUN_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
ENDED_STATUS = {"completed": "succeeded", "failed": "failed", "canceled": "canceled", "aborted": "aborted"}
"""Terminal event type -> the job's terminal status (the `status` label)."""


class JobInstruments:
    def __init__(self) -> None:
        self.admitted = CounterTable(
            "clearance_jobs_admitted_total",
            "Jobs admitted by this process and put in its queue, by runner.",
            ["runner"],
        )
        self.recovered = CounterTable(
            "clearance_jobs_recovered_total",
            "Jobs this process took over from a gateway process that stopped, by runner.",
            ["runner"],
        )
        self.ended = CounterTable(
            "clearance_jobs_ended_total",
            "Jobs whose end this process recorded, by runner and terminal status.",
            ["runner", "status"],
        )
        self.run_seconds = HistogramTable(
            "clearance_job_run_seconds",
            "Time from a job's start to its end, as recorded on the job, by runner (jobs that started).",
            ["runner"],
            RUN_BUCKETS,
        )
        self.tables = (self.admitted, self.recovered, self.ended, self.run_seconds)

    def observe(self, type_: str, data: dict[str, Any]) -> None:
        """The hub's observer: told of every job event of this process."""
        if type_ == "queued":
            table = self.recovered if data.get("recovered") else self.admitted
            table.inc((str(data.get("runner")),))
            return
        status = ENDED_STATUS.get(type_)
        if status is None:
            return
        runner = str(data.get("runner"))
        self.ended.inc((runner, status))
        seconds = _run_seconds(data.get("started_at"), data.get("finished_at"))
        if seconds is not None:
            self.run_seconds.observe((runner,), seconds)


def _run_seconds(started: object, finished: object) -> float | None:
    if not isinstance(started, str) or not isinstance(finished, str):
        return None
    try:
        elapsed = dt.datetime.fromisoformat(finished) - dt.datetime.fromisoformat(started)
    except (ValueError, TypeError):  # TypeError: one naive, one aware
        return None
    return max(elapsed.total_seconds(), 0.0)


@runtime_checkable
class _HasCircuit(Protocol):
    """A provider runner (`runners.remote.base.RemoteRunner`)."""

    @property
    def circuit_state(self) -> str: ...


class RunnerCollector(Collector):
    """Per runner of the pool, read when scraped: jobs queued and running in this process, its
    health as last checked, whether it is paused, and a provider runner's circuit breaker."""

    def __init__(self, runners: Callable[[], list[PooledRunner]], backlog: Callable[[str], int]) -> None:
        self._runners = runners
        self._backlog = backlog

    def collect(self) -> Iterator[Metric]:
        queued = GaugeMetricFamily(
            "clearance_runner_jobs_queued",
            "Jobs waiting in this process's queue for the runner.",
            labels=["runner"],
        )
        running = GaugeMetricFamily(
            "clearance_runner_jobs_running", "Jobs of this process running on the runner.", labels=["runner"]
        )
        healthy = GaugeMetricFamily(
            "clearance_runner_healthy",
            "1 when the runner's health check passed at this scrape.",
            labels=["runner"],
        )
        paused = GaugeMetricFamily(
            "clearance_runner_paused",
            "1 when the operator took the runner out of dispatch.",
            labels=["runner"],
        )
        circuit = GaugeMetricFamily(
            "clearance_runner_circuit_open",
            "1 while a provider runner's circuit breaker is open (no calls go out); provider runners only.",
            labels=["runner"],
        )
        for pooled in self._runners():
            runner = [pooled.entry.id]
            queued.add_metric(runner, self._backlog(pooled.entry.id))
            running.add_metric(runner, pooled.running)
            health = pooled.last_health
            healthy.add_metric(runner, 1 if health is not None and health.ok else 0)
            paused.add_metric(runner, 1 if pooled.paused else 0)
            if isinstance(pooled.runner, _HasCircuit):
                circuit.add_metric(runner, 1 if pooled.runner.circuit_state == "open" else 0)
        yield from (queued, running, healthy, paused, circuit)
