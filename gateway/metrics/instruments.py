"""One `GatewayMetrics` per app: its own Prometheus registry (several apps may live in one process,
as in the tests) and the instruments of each area."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from litestar import Litestar
from prometheus_client import CollectorRegistry
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from gateway.jobs.pool import PooledRunner
from gateway.metrics.delivery import DeliveryInstruments
from gateway.metrics.http import HttpInstruments, HttpMetricsMiddleware
from gateway.metrics.jobs import JobInstruments, RunnerCollector
from gateway.metrics.tables import CounterTable, HistogramTable


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.http = HttpInstruments()
        self.jobs = JobInstruments()
        self.delivery = DeliveryInstruments()
        self.registry.register(
            _TablesCollector([*self.http.tables, *self.jobs.tables, *self.delivery.tables])
        )

    def watch_runners(self, runners: Callable[[], list[PooledRunner]], backlog: Callable[[str], int]) -> None:
        """Read the runner pool and the executor's queues at every scrape."""
        self.registry.register(RunnerCollector(runners, backlog))


class _TablesCollector(Collector):
    def __init__(self, tables: Sequence[CounterTable | HistogramTable]) -> None:
        self._tables = tables

    def collect(self) -> Iterator[Metric]:
        for table in self._tables:
            yield table.family()


def instrument_app(app: Litestar, metrics: GatewayMetrics) -> None:
    """Count every HTTP request of `app`. The counting wraps the app's outermost handler (the router
    inside its exception handler), where Litestar itself mounts its OpenTelemetry middleware:
    app-level middleware runs only for matched routes and does not see the status of an
    exception raised by another middleware (the bearer token's 401)."""
    app.asgi_handler = HttpMetricsMiddleware(app.asgi_handler, metrics.http)
