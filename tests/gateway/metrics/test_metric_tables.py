"""The plain-number tables behind the counters and histograms expose what Prometheus expects:
cumulative `le` buckets (a value equal to a bound falls in that bound's bucket), `_count`, `_sum`,
and label values written as text."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from gateway.metrics.tables import CounterTable, HistogramTable


class _Tables(Collector):
    def __init__(self, *tables: CounterTable | HistogramTable) -> None:
        self.tables = tables

    def collect(self) -> Iterator[Metric]:
        for table in self.tables:
            yield table.family()


def _exposed(*tables: CounterTable | HistogramTable) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    registry = CollectorRegistry()
    registry.register(_Tables(*tables))
    text = generate_latest(registry).decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_a_histogram_exposes_cumulative_buckets_count_and_sum() -> None:
    table = HistogramTable("t_seconds", "test", ["route"], (0.1, 1.0, 10.0))
    for value in (0.05, 0.1, 0.5, 1.0, 20.0):
        table.observe(("/a",), value)
    samples = _exposed(table)

    def bucket(le: str) -> float:
        return samples[("t_seconds_bucket", frozenset({("route", "/a"), ("le", le)}))]

    assert [bucket(le) for le in ("0.1", "1.0", "10.0", "+Inf")] == [2, 4, 4, 5]
    assert samples[("t_seconds_count", frozenset({("route", "/a")}))] == 5
    assert samples[("t_seconds_sum", frozenset({("route", "/a")}))] == 21.65


def test_a_counter_adds_per_label_values_and_writes_numbers_as_text() -> None:
    table = CounterTable("t_requests_total", "test", ["route", "status"])
    table.inc(("/a", 200))
    table.inc(("/a", 200))
    table.inc(("/a", 404), 0)  # exposed at zero
    samples = _exposed(table)
    assert samples[("t_requests_total", frozenset({("route", "/a"), ("status", "200")}))] == 2
    assert samples[("t_requests_total", frozenset({("route", "/a"), ("status", "404")}))] == 0
