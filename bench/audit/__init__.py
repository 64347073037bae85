"""Audit log benchmark: durable appends at 1, 16 and 64 writers, and verification of 1,000,000
events, on SQLite and PostgreSQL. Run: `.venv/bin/python -m bench.audit [--events N] [--verify-events N]`.
"""

from bench.audit.run import main

__all__ = ["main"]
