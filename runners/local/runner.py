"""The in-process diffusers runner: one worker thread owns the device and every pipeline on it
(pipelines are not safe to share between concurrent calls, and adapter switching is global model
state); callers on the event loop submit tasks through the batching queue in front of it."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from runners.errors import (
    RunnerClosedError,
    RunnerError,
    TaskCanceledError,
    TaskValidationError,
)
from runners.local.device import choose_placement
from runners.local.execution import BatchCanceledError, BatchMember, run_batch
from runners.local.families import FAMILIES, FamilyTraits, traits_of
from runners.local.mixing import PlannedCall, may_mix, plan_calls
from runners.local.pipelines import AdapterPolicy, AdapterStore, WarmPipeline, WarmPipelineCache
from runners.local.scheduling import Affinity, BatchKey, QueuedTask, TaskQueue
from runners.protocol import ProgressCallback, RunnerDescription, RunnerHealth, RunnerLimits
from runners.provenance import encode_png, provenance_chunks
from runners.task import (
    GeneratedImage,
    GenerationResult,
    GenerationTask,
    HubSource,
    LocalSource,
    ProgressEvent,
    Timings,
)


@dataclass(frozen=True, kw_only=True)
class LocalRunnerSettings:
    runner_id: str = "local"
    device: str = "auto"
    """`auto` (CUDA when present, else CPU), or a torch device string."""
    memory_budget_bytes: int = 24 * 2**30
    """Warm pipelines are evicted, least recently used first, beyond this estimate."""
    max_resident_adapters: int = 4
    adapter_cache_bytes: int = 2 * 2**30
    """Verified adapter files kept in host memory (as tensors), least recently used out first,
    so that a swap back needs no read and hash; an adapter larger than this is read every time."""
    prompt_cache_bytes: int = 256 * 2**20
    """Prompt embeddings kept per warm pipeline (a real FLUX.1 prompt is 4 MiB in bf16); 0 keeps
    none between calls. Texts repeated within a call are encoded once either way."""
    hotswap: bool = False
    """Replace the least recently used adapter in place (a compiled denoiser keeps that slot's graph)
    instead of deleting it."""
    hotswap_target_rank: int = 16
    max_batch_images: int = 4
    max_wait_s: float = 0.01
    """How long the oldest task of an incomplete batch waits for company."""
    starvation_bound: int = 8
    """How many batches may pass the oldest queued task by, for tasks whose adapters are warm."""
    mix_adapters: bool = True
    """Let tasks of different adapters share a pipeline call, one adapter per batch row
    (`runners.local.mixing`), instead of a call per adapter set."""
    hub_cache_dir: Path | None = None
    torch_threads: int | None = None
    limits: RunnerLimits = field(
        default_factory=lambda: RunnerLimits(
            max_width=2048, max_height=2048, max_steps=100, max_images=16, max_batch=4
        )
    )


@dataclass
class _Job:
    task: GenerationTask
    future: concurrent.futures.Future[GenerationResult]
    loop: asyncio.AbstractEventLoop
    on_progress: ProgressCallback | None
    enqueued: float = field(default_factory=time.perf_counter)
    canceled: threading.Event = field(default_factory=threading.Event)

    def fail(self, error: BaseException) -> None:
        if not self.future.done():
            self.future.set_exception(error)

    def progress(self, step: int, total: int) -> None:
        callback = self.on_progress
        if callback is None:
            return
        event = ProgressEvent(task_id=self.task.task_id, step=step, total_steps=total)
        with contextlib.suppress(RuntimeError):  # the submitter's loop is gone: nobody listens
            self.loop.call_soon_threadsafe(callback, event)


class LocalDiffusersRunner:
    """Implements `runners.protocol.Runner` for diffusers pipelines on one device."""

    kind = "local_diffusers"

    def __init__(self, settings: LocalRunnerSettings | None = None) -> None:
        self.settings = settings or LocalRunnerSettings()
        self.placement = choose_placement(self.settings.device)
        self._store = AdapterStore(self.settings.hub_cache_dir, self.settings.adapter_cache_bytes)
        self._snapshot_lock = threading.Lock()
        self._snapshot: tuple[tuple[str, ...], dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]] = (
            (),
            {},
            {},
        )
        self.cache = WarmPipelineCache(
            self.placement,
            self.settings.memory_budget_bytes,
            AdapterPolicy(
                max_resident=self.settings.max_resident_adapters,
                hotswap=self.settings.hotswap,
                hotswap_target_rank=self.settings.hotswap_target_rank,
            ),
            self._store,
            hub_cache_dir=self.settings.hub_cache_dir,
            prompt_cache_bytes=self.settings.prompt_cache_bytes,
        )
        self._queue: TaskQueue[_Job] = TaskQueue(
            max_batch_images=self.settings.max_batch_images,
            max_wait_s=self.settings.max_wait_s,
            starvation_bound=self.settings.starvation_bound,
            max_batch_adapters=self.settings.max_resident_adapters if self.settings.mix_adapters else 1,
        )
        self._jobs: dict[str, _Job] = {}
        self._jobs_lock = threading.Lock()
        self._running: int = 0
        self._closed = False
        self.batches_run: list[int] = []
        """Images per pipeline call, in order (for tests and benchmarks)."""
        self._worker = threading.Thread(
            target=self._work, name=f"runner-{self.settings.runner_id}", daemon=True
        )
        self._worker.start()

    # --- Runner protocol -------------------------------------------------------------------
    async def submit(
        self, task: GenerationTask, on_progress: ProgressCallback | None = None
    ) -> GenerationResult:
        self._validate(task)
        job = _Job(
            task=task,
            future=concurrent.futures.Future(),
            loop=asyncio.get_running_loop(),
            on_progress=on_progress,
        )
        with self._jobs_lock:
            if self._closed:
                raise RunnerClosedError(f"runner {self.settings.runner_id} is closed")
            if task.task_id in self._jobs:
                raise TaskValidationError(f"task {task.task_id} is already submitted to this runner")
            self._jobs[task.task_id] = job
        try:
            self._queue.put(task, job)
        except RunnerClosedError:
            with self._jobs_lock:
                self._jobs.pop(task.task_id, None)
            raise
        try:
            return await asyncio.wrap_future(job.future)
        except asyncio.CancelledError:
            self._cancel(task.task_id)
            raise
        finally:
            with self._jobs_lock:
                self._jobs.pop(task.task_id, None)

    async def cancel(self, task_id: str) -> bool:
        return self._cancel(task_id)

    def describe(self) -> RunnerDescription:
        with self._snapshot_lock:
            pipelines, resident, active = self._snapshot
        return RunnerDescription(
            runner_id=self.settings.runner_id,
            kind=self.kind,
            families=tuple(FAMILIES),
            limits=self.settings.limits,
            device=self.placement.describe(),
            warm_pipelines=pipelines,
            warm_adapters=resident,
            active_adapters=active,
        )

    async def health(self) -> RunnerHealth:
        alive = self._worker.is_alive() and not self._closed
        return RunnerHealth(
            ok=alive,
            detail="" if alive else "worker stopped",
            queued=len(self._queue),
            running=self._running,
        )

    async def close(self) -> None:
        with self._jobs_lock:
            self._closed = True
        for item in self._queue.close():
            item.payload.fail(RunnerClosedError(f"runner {self.settings.runner_id} closed before task ran"))
        await asyncio.to_thread(self._worker.join)

    # --- validation ------------------------------------------------------------------------
    def _validate(self, task: GenerationTask) -> None:
        traits = traits_of(task.pipeline.family)
        if not isinstance(task.pipeline.source, LocalSource | HubSource):
            raise TaskValidationError(
                f"task {task.task_id}: pipeline {task.pipeline.artifact_id} is a provider model, "
                "not local weights"
            )
        limits = self.settings.limits
        checks = (
            ("width", task.width, limits.max_width),
            ("height", task.height, limits.max_height),
            ("steps", task.steps, limits.max_steps),
            ("num_images", task.num_images, limits.max_images),
        )
        for name, value, limit in checks:
            if value > limit:
                raise TaskValidationError(
                    f"task {task.task_id}: {name} {value} exceeds this runner's limit {limit}"
                )
        if task.negative_prompt and not traits.negative_prompt:
            raise TaskValidationError(
                f"task {task.task_id}: family {task.pipeline.family.value} takes no negative_prompt"
            )
        if len(task.switched_adapters) > self.settings.max_resident_adapters:
            raise TaskValidationError(
                f"task {task.task_id}: {len(task.switched_adapters)} adapters exceed this runner's "
                f"{self.settings.max_resident_adapters} resident adapters"
            )

    def _cancel(self, task_id: str) -> bool:
        queued = self._queue.remove(task_id)
        if queued is not None:
            queued.payload.canceled.set()
            queued.payload.fail(TaskCanceledError(f"task {task_id} canceled while queued"))
            return True
        with self._jobs_lock:
            job = self._jobs.get(task_id)
        if job is None:
            return False
        job.canceled.set()
        return True

    # --- the worker ------------------------------------------------------------------------
    def _work(self) -> None:
        if self.settings.torch_threads:
            torch.set_num_threads(self.settings.torch_threads)
        while True:
            batch = self._queue.take(self._affinity, self._mixable if self.settings.mix_adapters else None)
            if batch is None:
                return
            self._running = len(batch)
            try:
                self._run(batch)
            finally:
                self._running = 0
                self._publish_snapshot()

    def _affinity(self, key: BatchKey) -> int:
        warm = self.cache.peek(key.pipeline)
        if warm is None:
            return Affinity.COLD
        if warm.adapters.is_active(key.adapters):
            return Affinity.ACTIVE
        if warm.adapters.is_resident(key.adapters):
            return Affinity.RESIDENT
        return Affinity.COLD

    def _mixable(self, key: BatchKey) -> bool:
        warm = self.cache.peek(key.pipeline)
        if warm is None:
            return len(key.adapters) <= 1
        return may_mix(key.adapters, warm.adapters, traits_of(warm.spec.family).denoiser, unseen=True)

    def _run(self, batch: list[QueuedTask[_Job]]) -> None:
        started = time.perf_counter()
        jobs = [item.payload for item in batch if not item.payload.canceled.is_set()]
        for item in batch:
            if item.payload.canceled.is_set():
                item.payload.fail(TaskCanceledError(f"task {item.task.task_id} canceled while queued"))
        if not jobs:
            return
        first = jobs[0].task
        traits = traits_of(first.pipeline.family)
        try:
            warm, load_s = self.cache.get(first)
            planning_started = time.perf_counter()
            calls, failures = plan_calls(
                [job.task for job in jobs], warm.adapters, traits.denoiser, self._store.load
            )
            planning_s = time.perf_counter() - planning_started
        except Exception as exc:
            _fail(jobs, exc, first.pipeline.artifact_id)
            return
        for index, error in failures.items():
            jobs[index].fail(error)
        for call in calls:
            self._call(
                warm,
                traits,
                call,
                [jobs[i] for i in call.tasks],
                started,
                load_s=load_s,
                planning_s=planning_s,
            )

    def _call(
        self,
        warm: WarmPipeline,
        traits: FamilyTraits,
        call: PlannedCall,
        jobs: list[_Job],
        started: float,
        *,
        load_s: float,
        planning_s: float,
    ) -> None:
        """One pipeline call; its tasks get their images, or the call's error."""
        try:
            swap_started = time.perf_counter()
            warm.adapters.activate(call.adapters, self._store.load)
            rows = call.rows(warm.adapters)
            swap_s = planning_s + time.perf_counter() - swap_started
            inference_started = time.perf_counter()
            members = [
                BatchMember(task=j.task, is_canceled=j.canceled.is_set, on_step=j.progress) for j in jobs
            ]
            grouped = run_batch(
                warm.pipe,
                traits,
                members,
                warm.embeddings,
                warm.adapters.active_beyond(traits.denoiser),
                adapter_per_member=rows,
            )
            inference_s = time.perf_counter() - inference_started
        except Exception as exc:
            _fail(jobs, exc, warm.spec.artifact_id)
            return
        self._publish_snapshot()  # before any submitter wakes up and asks describe()
        images_in_batch = sum(j.task.num_images for j in jobs)
        self.batches_run.append(images_in_batch)
        device = self.placement.describe()
        for job, images in zip(jobs, grouped, strict=True):
            if job.canceled.is_set():
                job.fail(TaskCanceledError(f"task {job.task.task_id} canceled between steps"))
                continue
            generated = tuple(
                GeneratedImage(png=encode_png(image, provenance_chunks(job.task, seed, device)), seed=seed)
                for image, seed in zip(images, job.task.image_seeds(), strict=True)
            )
            result = GenerationResult(
                task_id=job.task.task_id,
                images=generated,
                timings=Timings(
                    queue_s=started - job.enqueued,
                    load_s=load_s,
                    adapter_swap_s=swap_s,
                    inference_s=inference_s,
                ),
                device=device,
                batch_size=images_in_batch,
            )
            if not job.future.done():
                job.future.set_result(result)

    def _publish_snapshot(self) -> None:
        warm = self.cache.warm()
        snapshot = (
            tuple(w.label for w in warm),
            {w.label: w.adapters.resident_ids() for w in warm},
            {w.label: w.adapters.active_ids() for w in warm},
        )
        with self._snapshot_lock:
            self._snapshot = snapshot


def _fail(jobs: list[_Job], exc: Exception, pipeline_id: str) -> None:
    if isinstance(exc, BatchCanceledError):
        for job in jobs:
            job.fail(TaskCanceledError(f"task {job.task.task_id} canceled between steps"))
        return
    error = (
        exc
        if isinstance(exc, RunnerError)
        else RunnerError(f"pipeline {pipeline_id} failed: {type(exc).__name__}: {exc}")
    )
    for job in jobs:
        job.fail(error)
