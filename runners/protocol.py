"""The one interface the gateway uses to run a task, whatever executes it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import msgspec

from runners.task import GenerationResult, GenerationTask, ModelFamily, ProgressEvent

ProgressCallback = Callable[[ProgressEvent], None]
"""Called on the submitting event loop after each denoising step (local runners) or status poll
(remote runners). It must not block."""


class RunnerLimits(msgspec.Struct, frozen=True, kw_only=True):
    max_width: int
    max_height: int
    max_steps: int
    max_images: int
    max_batch: int
    """Images computed together in one pipeline call."""


class RunnerDescription(msgspec.Struct, frozen=True, kw_only=True):
    runner_id: str
    kind: str
    """`local_diffusers`, `openai_images` or `fal_queue` (the catalog's `RunnerKind` values)."""
    families: tuple[ModelFamily, ...]
    limits: RunnerLimits
    device: str
    warm_pipelines: tuple[str, ...] = ()
    """Pipelines loaded now, least recently used first: the artifact id, plus `+adapter-id` for
    each always-on adapter fused into it (`flux2-dev+flux2-turbo-lora`)."""
    warm_adapters: dict[str, tuple[str, ...]] = {}
    """Per warm pipeline, the artifact ids of its resident adapters (most recently used last)."""
    active_adapters: dict[str, tuple[str, ...]] = {}
    """Per warm pipeline, the adapters switched on right now; a task asking for these costs no swap."""


class RunnerHealth(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    detail: str = ""
    queued: int = 0
    running: int = 0


@runtime_checkable
class Runner(Protocol):
    async def submit(
        self, task: GenerationTask, on_progress: ProgressCallback | None = None
    ) -> GenerationResult:
        """Run the task to completion. Raises a `RunnerError` subclass (for instance
        `TaskCanceledError` after `cancel`, `WeightVerificationError`, `AdapterMismatchError`,
        `ProviderError`)."""
        ...

    async def cancel(self, task_id: str) -> bool:
        """Ask a queued or running task to stop (between steps). True when the task was known."""
        ...

    def describe(self) -> RunnerDescription: ...

    async def health(self) -> RunnerHealth: ...

    async def close(self) -> None:
        """Stop accepting tasks, fail queued ones with `RunnerClosedError`, release the device."""
        ...
