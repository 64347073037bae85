"""Sending what the outbox holds: one worker loop, one guarded HTTP client, one sender per kind."""
