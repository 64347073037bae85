"""What the provider runners share: task bookkeeping, cancellation, the whole-task deadline, image
validation and provenance. Each protocol supplies `_fetch_images`."""

from __future__ import annotations

import asyncio
import time
from abc import ABC, abstractmethod
from typing import TypeVar

import msgspec

from runners.errors import (
    ProviderError,
    ProviderTimeoutError,
    RunnerClosedError,
    TaskCanceledError,
    TaskValidationError,
)
from runners.protocol import ProgressCallback, RunnerDescription, RunnerHealth
from runners.provenance import provenance_chunks
from runners.remote.http import ProviderClient, ProviderResponse, ProviderSettings
from runners.remote.images import accept_image
from runners.task import (
    GeneratedImage,
    GenerationResult,
    GenerationTask,
    ModelFamily,
    ProgressEvent,
    ProviderModelSource,
    Timings,
)

_T = TypeVar("_T")


class RemoteRunner(ABC):
    kind = "remote"

    def __init__(self, settings: ProviderSettings, auth_headers: dict[str, str]) -> None:
        self.settings = settings
        self.client = ProviderClient(settings, auth_headers)
        self._inflight: dict[str, asyncio.Task[list[bytes]]] = {}
        self._canceled: set[str] = set()
        self._closed = False

    @abstractmethod
    async def _fetch_images(self, task: GenerationTask, model: str) -> list[bytes]:
        """Ask the provider for the task's images; return their encoded bytes, unvalidated."""

    async def _on_cancel(self, task_id: str) -> None:  # noqa: B027 - optional hook, default: nothing to tell
        """Tell the provider, where its protocol can."""

    async def submit(
        self, task: GenerationTask, on_progress: ProgressCallback | None = None
    ) -> GenerationResult:
        if self._closed:
            raise RunnerClosedError(f"runner {self.settings.runner_id} is closed")
        model = self._validate(task)
        if task.task_id in self._inflight:
            raise TaskValidationError(f"task {task.task_id} is already submitted to this runner")
        started = time.perf_counter()
        fetch = asyncio.create_task(self._fetch_images(task, model))
        self._inflight[task.task_id] = fetch
        try:
            async with asyncio.timeout(self.settings.task_timeout_s):
                encoded = await fetch
        except TimeoutError as exc:
            raise ProviderTimeoutError(
                f"runner {self.settings.runner_id}: task {task.task_id} exceeded "
                f"{self.settings.task_timeout_s} s"
            ) from exc
        except asyncio.CancelledError:
            if task.task_id in self._canceled:
                raise TaskCanceledError(f"task {task.task_id} canceled") from None
            fetch.cancel()
            raise
        finally:
            self._inflight.pop(task.task_id, None)
            self._canceled.discard(task.task_id)
        if len(encoded) != task.num_images:
            raise ProviderError(
                f"runner {self.settings.runner_id}: asked for {task.num_images} images, got {len(encoded)}"
            )
        device = f"provider:{self.settings.runner_id}"
        images = []
        for index, (data, seed) in enumerate(zip(encoded, task.image_seeds(), strict=True)):
            png = accept_image(
                data,
                provenance_chunks(task, seed, device),
                max_pixels=self.settings.max_image_pixels,
                what=f"task {task.task_id} image {index}",
            )
            images.append(GeneratedImage(png=png, seed=seed))
        if on_progress is not None:
            on_progress(ProgressEvent(task_id=task.task_id, step=task.steps, total_steps=task.steps))
        return GenerationResult(
            task_id=task.task_id,
            images=tuple(images),
            timings=Timings(inference_s=time.perf_counter() - started),
            device=device,
            batch_size=task.num_images,
        )

    async def cancel(self, task_id: str) -> bool:
        fetch = self._inflight.get(task_id)
        if fetch is None:
            return False
        self._canceled.add(task_id)
        fetch.cancel()
        await self._on_cancel(task_id)
        return True

    def describe(self) -> RunnerDescription:
        return RunnerDescription(
            runner_id=self.settings.runner_id,
            kind=self.kind,
            families=(ModelFamily.PROVIDER,),
            limits=self.settings.limits,
            device=f"provider:{self.settings.runner_id}",
        )

    @property
    def circuit_state(self) -> str:
        """The provider circuit breaker's state: `closed`, `open` or `half_open`."""
        return self.client.breaker.state

    async def health(self) -> RunnerHealth:
        state = self.circuit_state
        return RunnerHealth(
            ok=state != "open" and not self._closed,
            detail=f"circuit {state}",
            running=len(self._inflight),
        )

    async def close(self) -> None:
        self._closed = True
        for fetch in list(self._inflight.values()):
            fetch.cancel()
        await self.client.close()

    def _validate(self, task: GenerationTask) -> str:
        source = task.pipeline.source
        if not isinstance(source, ProviderModelSource):
            raise TaskValidationError(
                f"task {task.task_id}: pipeline {task.pipeline.artifact_id} is not a provider model"
            )
        if self.settings.models and source.model not in self.settings.models:
            raise TaskValidationError(
                f"task {task.task_id}: model {source.model!r} is not served by runner "
                f"{self.settings.runner_id}"
            )
        if task.adapters:
            raise TaskValidationError(f"task {task.task_id}: provider models take no adapters")
        limits = self.settings.limits
        if task.width > limits.max_width or task.height > limits.max_height:
            raise TaskValidationError(
                f"task {task.task_id}: {task.width}x{task.height} exceeds this runner's limits"
            )
        if task.num_images > limits.max_images:
            raise TaskValidationError(
                f"task {task.task_id}: num_images {task.num_images} exceeds this runner's limit "
                f"{limits.max_images}"
            )
        return source.model

    def _decode(self, response: ProviderResponse, type_: type[_T]) -> _T:
        """A JSON answer as `type_`, or a `ProviderError` naming the URL."""
        try:
            return msgspec.json.decode(response.body, type=type_)
        except msgspec.DecodeError as exc:
            raise ProviderError(
                f"runner {self.settings.runner_id}: malformed response from {response.url}: {exc}"
            ) from exc
