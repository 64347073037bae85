"""Figures for the local diffusers runner with tiny pipelines (4 steps, 32x32).

Prints cold pipeline loads, adapter loads (fresh, into a slot of the same layout, hot-swap) and
warm switch, per-image time by batch size, a 200-task stream over 20 adapters through the
scheduler (a call per adapter set, and batches mixing adapters one per row), plain FIFO and
reload-per-task, and RSS around 1,000 adapter swaps. Targets: scheduler
within 10% of a single-adapter stream, at least 10x faster than reload-per-task, RSS growth under 5%.

Throughput is printed per wall second and per CPU second of the process (every thread): on a
shared host other processes' load stretches the first far more than the second. `BENCH_PARTS`
(comma-separated: loads, adapters, batches, streams, rss, http) runs a subset.
`BENCH_STREAM_ROUNDS=N` (N > 1) adds N interleaved rounds of the single-adapter stream and the
scheduler's streams after the streams, and prints the median of each round's share: one round's
streams are a second or two each, so on a GPU one slow second of the host moves a share by 20%.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from diffusers.utils import logging as diffusers_logging
from torch.utils._python_dispatch import TorchDispatchMode
from transformers.utils import logging as transformers_logging

from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.local.execution import BatchMember, run_batch
from runners.local.families import traits_of
from runners.local.row_adapters import adapter_per_row
from runners.task import AdapterSpec, GenerationTask, ModelFamily, PipelineSpec
from runners.tiny import TINY_FAMILIES, build_tiny_lora, build_tiny_models

STREAM_TASKS = 200
STREAM_ADAPTERS = 20
RELOAD_SAMPLE = 20
SWAPS = 1000
FAMILY = ModelFamily.FLUX1

_ids = iter(range(10**9))


def _task(pipeline: PipelineSpec, adapters: tuple[AdapterSpec, ...] = (), **fields: Any) -> GenerationTask:
    values: dict[str, Any] = {
        "task_id": f"bench-{next(_ids)}",
        "pipeline": pipeline,
        "adapters": adapters,
        "prompt": "a lighthouse at dusk",
        "width": 32,
        "height": 32,
        "steps": 4,
        "guidance": 3.5,
        "seed": 1,
    }
    values.update(fields)
    return GenerationTask(**values)


def _loras(
    pipe: Any, family: ModelFamily, root: Path, name: str, count: int, *, seed: int
) -> list[AdapterSpec]:
    """`count` random LoRAs of ranks 8, 4, 8, ..., saved under `root/name-i`."""
    return [
        build_tiny_lora(
            pipe,
            family,
            root / f"{name}-{i}",
            rank=4 if i % 2 else 8,
            seed=seed + i,
            artifact_id=f"{name}-{i}",
        )
        for i in range(count)
    ]


def _settings(**overrides: Any) -> LocalRunnerSettings:
    values: dict[str, Any] = {"runner_id": "bench", "max_wait_s": 0.0, "max_batch_images": 4}
    values.update(overrides)
    return LocalRunnerSettings(**values)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _median_time(
    action: Callable[[], object], repeat: int, clock: Callable[[], float] = time.perf_counter
) -> float:
    times = []
    for _ in range(repeat):
        started = clock()
        action()
        times.append(clock() - started)
    return statistics.median(times)


class Rate:
    """Tasks per wall second and per CPU second of the process."""

    def __init__(self, tasks: int, wall_s: float, cpu_s: float) -> None:
        self.wall = tasks / wall_s
        self.cpu = tasks / cpu_s

    def __str__(self) -> str:
        return f"{self.wall:6.1f} tasks/s ({self.cpu:5.1f} per CPU-s)"

    def ratio(self, other: Rate) -> str:
        return f"{self.wall / other.wall:.1f}x ({self.cpu / other.cpu:.1f}x per CPU-s)"

    def share(self, other: Rate) -> str:
        return f"{self.wall / other.wall:.0%} ({self.cpu / other.cpu:.0%} per CPU-s)"


def chosen_parts() -> set[str]:
    """The parts `BENCH_PARTS` names, or all of them."""
    chosen = os.environ.get("BENCH_PARTS", "")
    return {p.strip() for p in chosen.split(",") if p.strip()} or set(PARTS)


PARTS = ("loads", "adapters", "batches", "streams", "rss", "http")


async def _through(
    settings: LocalRunnerSettings, warmup: GenerationTask, tasks: list[GenerationTask]
) -> tuple[Rate, str]:
    """Tasks per second, and how many pipeline calls and adapter loads the stream took (with how
    many were copies into a slot of the same layout), how many texts went through the text
    encoders, and where the worker's time went."""
    runner = LocalDiffusersRunner(settings)
    try:
        await runner.submit(warmup)
        calls_before = len(runner.batches_run)
        warm = runner.cache.warm()[0]
        residents = warm.adapters
        loads_before, in_place_before = residents.loads, residents.in_place_loads
        encoded_before = warm.embeddings.encoded
        started, cpu_started = time.perf_counter(), time.process_time()
        results = await asyncio.gather(*(runner.submit(task) for task in tasks))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        # every task of a batch reports the batch's times; each task here is one image of its batch
        swap_s = sum(r.timings.adapter_swap_s / r.batch_size for r in results)
        inference_s = sum(r.timings.inference_s / r.batch_size for r in results)
        detail = (
            f"{len(runner.batches_run) - calls_before} calls, {residents.loads - loads_before} adapter "
            f"loads, {residents.in_place_loads - in_place_before} in place, "
            f"{warm.embeddings.encoded - encoded_before} texts encoded; adapters {swap_s:.2f} s, "
            f"pipeline calls {inference_s:.2f} s, rest {elapsed - swap_s - inference_s:.2f} s"
        )
        return Rate(len(tasks), elapsed, cpu), detail
    finally:
        await runner.close()


def _cold_loads(models: Any) -> None:
    print("cold pipeline load (sha256 verification + from_pretrained), median of 3:")
    for family in TINY_FAMILIES:
        spec = models[family].pipeline

        def load(spec: PipelineSpec = spec) -> None:
            runner = LocalDiffusersRunner(_settings())
            runner.cache.get(_task(spec))
            asyncio.run(runner.close())

        print(f"  {family.value:12s} {_median_time(load, 3) * 1000:7.1f} ms")


def _adapter_costs(pipeline: PipelineSpec, adapters: list[AdapterSpec]) -> None:
    """One resident slot: a load evicts the adapter before it. Ranks alternate 8, 4, 8, ... over
    `adapters`, all on the same layers; the slot starts with `adapters[0]` (rank 8). For the fresh
    loads the runner is made to forget the slot's layout before each load, since every adapter
    here would otherwise be copied into it (rank 4 zero-padded)."""
    cases = (
        ("adapter load (evicting with delete_adapters)", False, adapters[2:12], True),
        ("adapter load into a slot of the same layout", False, adapters[2:22:2], False),
        ("adapter load into a rank-8 slot, zero-padded", False, adapters[1:21:2], False),
        ("hot-swap into a slot", True, adapters[2:12], False),
    )
    for label, hotswap, cycle, fresh in cases:
        runner = LocalDiffusersRunner(
            _settings(max_resident_adapters=1, hotswap=hotswap, hotswap_target_rank=8)
        )
        warm, _ = runner.cache.get(_task(pipeline))
        store = runner._store
        for adapter in adapters:
            store.load(adapter)  # verified and read from disk: measure the pipeline side only
        residents = warm.adapters
        residents.activate((adapters[0],), store.load)
        swap_times = []
        for adapter in cycle:
            if fresh:
                residents._layouts.clear()
            started = time.perf_counter()
            residents.activate((adapter,), store.load)
            swap_times.append(time.perf_counter() - started)
        print(f"  {label:46s} {statistics.median(swap_times) * 1000:7.2f} ms")
        asyncio.run(runner.close())
    runner = LocalDiffusersRunner(_settings(max_resident_adapters=2))
    warm, _ = runner.cache.get(_task(pipeline))
    load = runner._store.load
    residents = warm.adapters
    residents.activate((adapters[0],), load)
    residents.activate((adapters[1],), load)

    def switch_twice() -> None:
        residents.activate((adapters[0],), load)
        residents.activate((adapters[1],), load)

    switch = _median_time(switch_twice, 20) / 2
    print(f"  {'warm switch (set_adapters, both resident)':46s} {switch * 1000:7.2f} ms")
    asyncio.run(runner.close())


def _per_image(pipeline: PipelineSpec, adapter: AdapterSpec) -> None:
    runner = LocalDiffusersRunner(_settings())
    warm, _ = runner.cache.get(_task(pipeline))
    warm.adapters.activate((adapter,), runner._store.load)
    traits = traits_of(pipeline.family)
    # CPU time of this thread on a CPU placement (a shared host stretches wall time); on a GPU the
    # thread may sleep while kernels run, so wall time there
    on_cpu = runner.placement.device.type == "cpu"
    clock = time.thread_time if on_cpu else time.perf_counter
    print(
        f"per-image {'CPU' if on_cpu else 'wall'} time by batch size (one pipeline call in this thread; "
        "its prompt encoded once / embeddings cached), median of 5:"
    )
    for size in (1, 4, 8):
        members = [
            BatchMember(
                task=_task(pipeline, (adapter,), seed=i), is_canceled=lambda: False, on_step=lambda s, t: None
            )
            for i in range(size)
        ]
        run_batch(warm.pipe, traits, members)
        encoding = _median_time(lambda members=members: run_batch(warm.pipe, traits, members), 5, clock)
        cached = _median_time(
            lambda members=members: run_batch(warm.pipe, traits, members, warm.embeddings), 5, clock
        )
        print(
            f"  batch {size}: {encoding / size * 1000:7.2f} / {cached / size * 1000:6.2f} ms/image "
            f"({encoding * 1000:.1f} / {cached * 1000:.1f} ms per call)"
        )
    asyncio.run(runner.close())


class _OpCount(TorchDispatchMode):
    """Counts the aten operators a call dispatches: on a GPU, about one kernel launch each."""

    def __init__(self) -> None:
        super().__init__()
        self.ops = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        self.ops += 1
        return func(*args, **(kwargs or {}))


def _mixed_calls(root: Path, models: Any) -> None:
    print("a batch-4 call through four adapters, one per row, against one adapter for all rows, median of 5:")
    for family in (ModelFamily.SD1, FAMILY):
        _mixed_call(root, models[family].pipeline, family)


def _mixed_call(root: Path, spec: PipelineSpec, family: ModelFamily) -> None:
    """The call's rows through four adapters, one each (stacked where layers allow, and through
    peft's routing alone), against the same call through one adapter; cached embeddings, CPU time
    of this thread on a CPU placement."""
    runner = LocalDiffusersRunner(_settings())
    warm, _ = runner.cache.get(_task(spec))
    four = tuple(_loras(warm.pipe, family, root, f"mixed-{family.value}", 4, seed=700))
    traits = traits_of(family)
    load = runner._store.load
    members = [
        BatchMember(task=_task(spec, (a,), seed=i), is_canceled=lambda: False, on_step=lambda s, t: None)
        for i, a in enumerate(four)
    ]
    guided = traits.conditioning.needs_unconditional(warm.pipe, members[0].task.guidance)
    copies = 2 if guided and traits.guidance_in_one_batch else 1
    denoiser = getattr(warm.pipe, traits.denoiser)

    def one_adapter() -> None:
        warm.adapters.activate(four[:1], load)
        run_batch(warm.pipe, traits, members, warm.embeddings)

    def routed(stacked: bool) -> None:
        warm.adapters.activate(four, load)
        rows = [warm.adapters.slot_of((a.artifact_id, a.sha256)) for a in four] * copies
        with adapter_per_row(denoiser, rows, stacked=stacked):
            run_batch(warm.pipe, traits, members, warm.embeddings)

    on_cpu = runner.placement.device.type == "cpu"
    clock = time.thread_time if on_cpu else time.perf_counter
    figures = []
    for call in (one_adapter, lambda: routed(True), lambda: routed(False)):
        call()
        counter = _OpCount()
        with counter:
            call()
        figures.append(f"{_median_time(call, 5, clock) * 1000:.1f} ms, {counter.ops} ops")
    print(
        f"  {family.value:6s} one adapter {figures[0]}; mixed, stacked {figures[1]}; "
        f"mixed, peft's routing alone {figures[2]} ({'CPU' if on_cpu else 'wall'} time, aten operators)"
    )
    asyncio.run(runner.close())


def _reload_per_task(tasks: list[GenerationTask]) -> Rate:
    """What a naive server does: verify and load the pipeline, load the adapter, generate, drop."""
    started, cpu_started = time.perf_counter(), time.process_time()
    for task in tasks:
        runner = LocalDiffusersRunner(_settings())
        warm, _ = runner.cache.get(task)
        warm.adapters.activate(task.switched_adapters, runner._store.load)
        member = BatchMember(task=task, is_canceled=lambda: False, on_step=lambda s, t: None)
        run_batch(warm.pipe, traits_of(task.pipeline.family), [member])
        asyncio.run(runner.close())
    return Rate(len(tasks), time.perf_counter() - started, time.process_time() - cpu_started)


def _streams(pipeline: PipelineSpec, adapters: list[AdapterSpec]) -> None:
    rng = random.Random(7)
    mixed = [_task(pipeline, (rng.choice(adapters),), seed=i) for i in range(STREAM_TASKS)]
    single = [_task(pipeline, (adapters[0],), seed=i) for i in range(STREAM_TASKS)]
    # the same stream with a prompt of its own per task: every text goes through the encoders
    distinct = [
        _task(pipeline, t.adapters, seed=t.seed, prompt=f"{t.prompt}, take {i}") for i, t in enumerate(mixed)
    ]
    warmup = _task(pipeline, (adapters[0],))
    print(
        f"stream of {STREAM_TASKS} tasks, {STREAM_ADAPTERS} adapters in random order "
        "(batch <= 4, 4 resident):"
    )
    single_rate, single_detail = asyncio.run(_through(_settings(), warmup, single))
    scheduler_rate, scheduler_detail = asyncio.run(_through(_settings(mix_adapters=False), warmup, mixed))
    mixing_rate, mixing_detail = asyncio.run(_through(_settings(), warmup, mixed))
    hotswap_rate, hotswap_detail = asyncio.run(
        _through(_settings(hotswap=True, hotswap_target_rank=8, mix_adapters=False), warmup, mixed)
    )
    hotswap_mixing_rate, hotswap_mixing_detail = asyncio.run(
        _through(_settings(hotswap=True, hotswap_target_rank=8), warmup, mixed)
    )
    distinct_rate, distinct_detail = asyncio.run(_through(_settings(mix_adapters=False), warmup, distinct))
    fifo_rate, fifo_detail = asyncio.run(
        _through(_settings(max_batch_images=1, starvation_bound=0), warmup, mixed)
    )
    reload_rate = _reload_per_task(mixed[:RELOAD_SAMPLE])
    print(f"  single-adapter stream (reference)  {single_rate}  ({single_detail})")
    print(
        f"  (a) scheduler, a call per adapter set {scheduler_rate}  ({scheduler_detail}; "
        f"{scheduler_rate.share(single_rate)} of single-adapter, target >= 90%)"
    )
    print(
        f"  (a*) scheduler, mixed-adapter batches {mixing_rate}  ({mixing_detail}; "
        f"{mixing_rate.share(single_rate)} of single-adapter, target >= 90%)"
    )
    print(
        f"  (a') scheduler, hot-swap slots     {hotswap_rate}  ({hotswap_detail}; "
        f"{hotswap_rate.share(single_rate)} of single-adapter)"
    )
    print(
        f"  (a'*) hot-swap slots, mixed batches {hotswap_mixing_rate}  ({hotswap_mixing_detail}; "
        f"{hotswap_mixing_rate.share(single_rate)} of single-adapter)"
    )
    print(f"  (a'') scheduler, a prompt per task {distinct_rate}  ({distinct_detail})")
    print(f"  (b) plain FIFO, no batching        {fifo_rate}  ({fifo_detail})")
    print(f"  (c) reload pipeline per task       {reload_rate} (first {RELOAD_SAMPLE} tasks)")
    print(
        f"  scheduler / reload-per-task: {scheduler_rate.ratio(reload_rate)} (target >= 10x), "
        f"mixed batches {mixing_rate.ratio(reload_rate)}; "
        f"with a prompt per task {distinct_rate.ratio(reload_rate)}; "
        f"scheduler / FIFO: {scheduler_rate.ratio(fifo_rate)}"
    )
    print(
        "  (a reload is a pipeline load, an adapter load and a batch-1 call: on these tiny models about "
        "as much as 5 images of a batch-4 call; real pipelines load in seconds to minutes, so the "
        "reload ratio grows with model size)"
    )
    rounds = int(os.environ.get("BENCH_STREAM_ROUNDS", "1"))
    if rounds > 1:
        _stream_rounds(mixed, single, warmup, rounds)


def _stream_rounds(
    mixed: list[GenerationTask],
    single: list[GenerationTask],
    warmup: GenerationTask,
    rounds: int,
) -> None:
    """The single-adapter stream and the scheduler's streams in turn, `rounds` times; each round's
    share is its stream against the single-adapter stream of the same round."""
    streams = {
        "(a) a call per adapter set": _settings(mix_adapters=False),
        "(a*) mixed-adapter batches": _settings(),
        "(a'*) hot-swap slots, mixed": _settings(hotswap=True, hotswap_target_rank=8),
    }
    shares: dict[str, list[float]] = {label: [] for label in streams}
    cpu_shares: dict[str, list[float]] = {label: [] for label in streams}
    print(f"the same streams in {rounds} interleaved rounds, share of each round's single-adapter stream:")
    for index in range(rounds):
        reference, _ = asyncio.run(_through(_settings(), warmup, single))
        line = [f"single {reference.wall:6.1f} tasks/s"]
        for label, settings in streams.items():
            rate, _ = asyncio.run(_through(settings, warmup, mixed))
            shares[label].append(rate.wall / reference.wall)
            cpu_shares[label].append(rate.cpu / reference.cpu)
            line.append(f"{label.split()[0]} {rate.wall / reference.wall:.0%}")
        print(f"  round {index + 1}: " + ", ".join(line))
    for label in streams:
        print(
            f"  {label:28s} median share {statistics.median(shares[label]):.0%} "
            f"({statistics.median(cpu_shares[label]):.0%} per CPU-s; rounds "
            f"{min(shares[label]):.0%}-{max(shares[label]):.0%}; target >= 90%)"
        )


def _rss_after_swaps(pipeline: PipelineSpec, adapters: list[AdapterSpec]) -> None:
    for hotswap in (False, True):
        runner = LocalDiffusersRunner(
            _settings(max_resident_adapters=4, hotswap=hotswap, hotswap_target_rank=8)
        )
        warm, _ = runner.cache.get(_task(pipeline))
        load = runner._store.load
        for adapter in adapters * 3:  # warm-up: every slot used, every file read, allocator settled
            warm.adapters.activate((adapter,), load)
        gc.collect()
        before = _rss_bytes()
        for i in range(SWAPS):
            warm.adapters.activate((adapters[i % len(adapters)],), load)
        gc.collect()
        after = _rss_bytes()
        label = "hot-swap" if hotswap else "delete/in place"
        print(
            f"  {label:16s} RSS {before / 2**20:7.1f} MiB -> {after / 2**20:7.1f} MiB "
            f"({(after - before) / before:+.2%}; target < 5%), {warm.adapters.loads} loads"
        )
        asyncio.run(runner.close())


def main() -> None:
    # One intra-op thread: on a shared 2-core host, OpenMP barriers waiting on descheduled threads
    # made two threads 5-10x slower than one (measured); override with BENCH_TORCH_THREADS.
    torch.set_num_threads(int(os.environ.get("BENCH_TORCH_THREADS", "1")))
    diffusers_logging.disable_progress_bar()  # one bar per cold load drowns the figures
    diffusers_logging.set_verbosity_error()  # "No LoRA keys ... text_encoder": expected, not news
    transformers_logging.disable_progress_bar()  # "Loading weights" for every text encoder
    with tempfile.TemporaryDirectory(prefix="bench-runners-") as tmp:
        root = Path(tmp)
        models = build_tiny_models(root, adapters_per_family=1)
        pipeline = models[FAMILY].pipeline
        probe = LocalDiffusersRunner(_settings())
        print(f"device: {probe.placement.describe()}, torch threads {torch.get_num_threads()}")
        warm, _ = probe.cache.get(_task(pipeline))
        adapters = _loras(warm.pipe, FAMILY, root, "bench-lora", STREAM_ADAPTERS, seed=900)
        asyncio.run(probe.close())
        parts = chosen_parts()
        if "loads" in parts:
            _cold_loads(models)
        if "adapters" in parts:
            print(f"adapters on {FAMILY.value} (median):")
            _adapter_costs(pipeline, adapters)
        if "batches" in parts:
            _per_image(pipeline, adapters[0])
            _mixed_calls(root, models)
        if "streams" in parts:
            _streams(pipeline, adapters)
        if "rss" in parts:
            print(f"RSS around {SWAPS} adapter swaps over {STREAM_ADAPTERS} adapters, 4 resident:")
            _rss_after_swaps(pipeline, adapters)
