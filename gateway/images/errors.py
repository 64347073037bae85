"""Errors of the OpenAI-compatible surface; mapped in `gateway.images.problems`."""

from __future__ import annotations

from gateway.jobs.errors import JobValidationError


class DeclarationHeaderError(JobValidationError):
    """A `Clearance-*` header that does not hold a value of the vocabulary (422)."""


class GenerationFailedError(Exception):
    """The job was admitted and audited, but it ended without images (502)."""

    def __init__(self, job_id: str, status: str, error: str | None) -> None:
        super().__init__(f"job {job_id} {status}: {error or 'no reason given'}")
        self.job_id = job_id
        self.status = status


class GenerationPendingError(Exception):
    """The job did not end within the longest synchronous wait; it goes on (504)."""

    def __init__(self, job_id: str, waited_s: float) -> None:
        super().__init__(f"job {job_id} did not finish within {waited_s:g} s; it is still running")
        self.job_id = job_id
