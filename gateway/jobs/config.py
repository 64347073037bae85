"""Limits of the jobs API, read once from the settings."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class JobLimits:
    """Bounds on what one request may ask and on what one tenant may hold."""

    max_prompt_chars: int = 4000
    max_side: int = 2048
    """Width and height bound when the model's recommended settings name none."""
    max_steps: int = 200
    max_images: int = 8
    max_adapters: int = 4
    max_deadline_s: float = 86_400.0
    max_wait_s: float = 60.0
    """Longest `Prefer: wait=N` honoured."""
    queue_depth: int = 16
    """Jobs a tenant may have queued (not yet running) before submissions answer 429/503."""
    concurrency: int = 4
    """Jobs of one tenant running at once, every gateway process on the database together
    (`gateway.jobs.slots`); the rest wait queued."""
    rate_per_minute: int = 600
    """Submissions a tenant may make per UTC minute, all gateway processes on the database
    together (429 beyond)."""
    lease_s: float = 15.0
    """A job whose executing process has not renewed it for this long is recovered."""
    max_restarts: int = 1
    """Times a job running on a local runner is queued again after its process died."""


DEFAULT_STEPS = 28
DEFAULT_GUIDANCE = 3.5
DEFAULT_SIDE = 1024
