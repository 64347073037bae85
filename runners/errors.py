"""Domain errors of the runners. The gateway maps each to a problem-details response, so each
says precisely what was wrong (which file, which adapter, which field)."""

from __future__ import annotations


class RunnerError(Exception):
    """Base of every error a runner raises for a task."""


class TaskValidationError(RunnerError, ValueError):
    """The task asks for something malformed or beyond this runner's limits."""


class UnsupportedFamilyError(TaskValidationError):
    """The runner does not serve this pipeline family."""


class WeightVerificationError(RunnerError):
    """A weight file is missing, unlisted, or its sha256 differs from the pinned one."""


class UnsafeWeightsError(RunnerError):
    """Weights in a pickle format (or custom code) were offered; they are never deserialised."""


class AdapterMismatchError(RunnerError):
    """An adapter does not fit its pipeline: it attached to no (or too few) layers."""


class PipelineLoadError(RunnerError):
    """A verified pipeline could not be constructed (bad config, wrong class)."""


class TaskCanceledError(RunnerError):
    """The task was canceled before it finished."""


class RunnerClosedError(RunnerError):
    """The runner was shut down; it accepts no more tasks."""


class ProviderError(RunnerError):
    """A remote provider failed or answered something unusable."""


class ProviderTimeoutError(ProviderError):
    """A remote provider did not answer within the configured time."""


class ProviderRejectedError(ProviderError):
    """A remote provider refused the request (4xx other than 408/429): retrying cannot help."""


class CircuitOpenError(ProviderError):
    """The runner's circuit breaker is open after repeated provider failures."""
