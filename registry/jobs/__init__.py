"""Generation jobs as the database keeps them, and per-agreement monthly usage counters.

The gateway owns the lifecycle (gateway/jobs); this package holds the rows and the atomic
statements every gateway process relies on: the quota reservation and the status transitions
that make each job end exactly once.
"""
