"""Runners for proprietary models behind a provider's HTTP API."""
