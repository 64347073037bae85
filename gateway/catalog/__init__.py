"""The catalog as tenants see it over HTTP: a cached policy snapshot and the `/v1` read routes."""
