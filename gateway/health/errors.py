from __future__ import annotations


class DatabaseUnavailableError(Exception):
    """The database did not answer the readiness probe in time."""
