"""Durable delivery: the outbox (webhooks, licensor usage reports), webhook secrets, idempotency keys.

Tables and database operations only; sending lives in the gateway (`gateway/delivery`).
"""
