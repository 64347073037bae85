"""The policy tests run on the built-in catalog (real licenses) plus a small deployment: the
operator, its runners, tenants and agreements (fixtures/deployment.yaml)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from registry.catalog.builtin import builtin_catalog_paths
from registry.catalog.entries import Catalog
from registry.catalog.files import read_catalog_files
from registry.catalog.validation import validate_catalog
from registry.policy import CatalogSnapshot, PolicyDecision, PolicyRequest, evaluate

DEPLOYMENT = Path(__file__).parent / "fixtures" / "deployment.yaml"
TODAY = dt.date(2026, 11, 26)


def load_catalog() -> Catalog:
    sourced = read_catalog_files([*builtin_catalog_paths(), DEPLOYMENT])
    validate_catalog(sourced)
    return sourced.catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def snapshot(catalog: Catalog) -> CatalogSnapshot:
    return CatalogSnapshot.build(catalog)


def make_request(**fields: Any) -> PolicyRequest:
    """A request from plain values (strings for enums), validated like the gateway's input."""
    fields.setdefault("date", TODAY)
    return msgspec.convert(fields, PolicyRequest)


Decide = Callable[..., PolicyDecision]


@pytest.fixture
def decide(snapshot: CatalogSnapshot) -> Decide:
    def run(**fields: Any) -> PolicyDecision:
        return evaluate(make_request(**fields), snapshot)

    return run
