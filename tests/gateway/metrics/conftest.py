"""The jobs API's world (tiny pipelines, a fake provider, a seeded SQLite database) with the
metrics endpoint switched on, and a scraper that parses what it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.jobs.conftest import Gateway, JobsWorld, gateway, jobs_world, open_gateway

METRICS_TOKEN = "scrape-token-0123456789abcdef"

__all__ = ["gateway", "jobs_world"]


@pytest.fixture
async def metered(jobs_world: JobsWorld, tmp_path: Path) -> AsyncIterator[Gateway]:
    async with open_gateway(jobs_world, tmp_path, metrics_token=METRICS_TOKEN) as opened:
        yield opened


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(gateway: Gateway) -> Samples:
    """Every sample of one scrape, keyed by name and labels."""
    response = await gateway.http.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200, response.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """A sample's value; 0 when the series does not exist (yet)."""
    return samples.get((name, frozenset(labels.items())), 0.0)
