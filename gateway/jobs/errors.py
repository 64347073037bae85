"""Domain errors of the jobs service; mapped once to problem details in `gateway.jobs.problems`."""

from __future__ import annotations

from registry.policy import Alternative, Reason


class JobValidationError(ValueError):
    """A request field that is out of bounds or refers to something unusable (422)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NoPermittedRunnerError(Exception):
    """No runner may serve the request under the licenses and agreements (403)."""

    def __init__(
        self,
        message: str,
        *,
        decision_id: str,
        decision: str,
        reasons: tuple[Reason, ...],
        alternatives: tuple[Alternative, ...],
    ) -> None:
        super().__init__(message)
        self.decision_id = decision_id
        self.decision = decision
        self.reasons = reasons
        self.alternatives = alternatives


class RetryLaterError(Exception):
    """The request may succeed later; `status` is 429 (the tenant's limits) or 503 (capacity)."""

    def __init__(self, message: str, *, status: int, retry_after: int, slug: str) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = max(1, retry_after)
        self.slug = slug


class DecisionNotRecordedError(Exception):
    """The decision could not be written to the audit log: nothing was dispatched (503)."""


class JobNotFoundError(LookupError):
    """No such job for this tenant (another tenant's job is not found either)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}")
        self.job_id = job_id


class JobStateError(Exception):
    """The job is not in a state that allows this (an image of an unfinished job: 409)."""


class IdempotencyRejectedError(Exception):
    """Same key with another body (422), or the first request is still in progress (409)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status
