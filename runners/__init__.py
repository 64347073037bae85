"""Execution backends. A runner receives a fully resolved `GenerationTask` and returns images; it
knows pipelines, adapters and devices, never tenants or licenses (see docs/runners.md).

Importing this package is cheap: torch and diffusers load only with `runners.local`/`runners.tiny`.
"""

from runners.errors import (
    AdapterMismatchError,
    CircuitOpenError,
    PipelineLoadError,
    ProviderError,
    ProviderRejectedError,
    ProviderTimeoutError,
    RunnerClosedError,
    RunnerError,
    TaskCanceledError,
    TaskValidationError,
    UnsafeWeightsError,
    UnsupportedFamilyError,
    WeightVerificationError,
)
from runners.protocol import ProgressCallback, Runner, RunnerDescription, RunnerHealth, RunnerLimits
from runners.task import (
    AdapterSpec,
    GeneratedImage,
    GenerationResult,
    GenerationTask,
    HubSource,
    LocalSource,
    ModelFamily,
    PipelineSpec,
    ProgressEvent,
    ProviderModelSource,
    Timings,
)

__all__ = [
    "AdapterMismatchError",
    "AdapterSpec",
    "CircuitOpenError",
    "GeneratedImage",
    "GenerationResult",
    "GenerationTask",
    "HubSource",
    "LocalSource",
    "ModelFamily",
    "PipelineLoadError",
    "PipelineSpec",
    "ProgressCallback",
    "ProgressEvent",
    "ProviderError",
    "ProviderModelSource",
    "ProviderRejectedError",
    "ProviderTimeoutError",
    "Runner",
    "RunnerClosedError",
    "RunnerDescription",
    "RunnerError",
    "RunnerHealth",
    "RunnerLimits",
    "TaskCanceledError",
    "TaskValidationError",
    "Timings",
    "UnsafeWeightsError",
    "UnsupportedFamilyError",
    "WeightVerificationError",
]
