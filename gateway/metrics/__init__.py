"""Prometheus metrics of one gateway process (docs/metrics.md): HTTP requests, jobs, runners and
deliveries, exposed at `GET /metrics` when `CLEARANCE_METRICS_TOKEN` is set."""
