"""Tamper-evident audit log (see docs/audit.md)."""
