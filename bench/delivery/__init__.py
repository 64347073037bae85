"""Delivery benchmark: URL guard cost, webhook deliveries per second through the guard to a loopback
receiver, outbox claim throughput with concurrent workers, idempotency begin/complete, on SQLite and
PostgreSQL. Run: `.venv/bin/python -m bench.delivery [--messages N]`.
"""

from bench.delivery.run import main

__all__ = ["main"]
