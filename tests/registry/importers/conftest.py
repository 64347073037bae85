"""Fixtures of the importer tests."""

from __future__ import annotations

import pytest
from import_fixtures import import_catalog

from registry.catalog.entries import Catalog


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return import_catalog()
