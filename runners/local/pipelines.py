"""Warm pipelines: loaded once after their weights are verified, kept in an LRU bounded by a memory
budget. A pipeline with always-on adapters (a Turbo LoRA) fused in is a different pipeline, so the
fused adapters are part of its key."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import safetensors.torch
import torch

from runners.errors import AdapterMismatchError, PipelineLoadError
from runners.local.adapters import (
    ResidentAdapters,
    ScaledAdapterKey,
    check_adapter_fits,
    count_attached_layers,
    private_copy,
    scaled_keys,
)
from runners.local.device import Placement
from runners.local.families import traits_of
from runners.local.lora_layout import convert_adapter
from runners.local.prompts import PromptEmbeddings
from runners.local.sources import adapter_file, pipeline_directory
from runners.local.tensor_cache import TensorCache, tensor_bytes
from runners.local.weights import read_verified, verify_pipeline_dir
from runners.modules import BUILDING_MODULES
from runners.task import AdapterSpec, GenerationTask, PipelineSpec

PipelineKey = tuple[str, tuple[ScaledAdapterKey, ...]]
"""(artifact id, ((always-on adapter id, sha256, scale), ...))."""


def pipeline_key(task: GenerationTask) -> PipelineKey:
    return (
        task.pipeline.artifact_id,
        scaled_keys(task.always_on_adapters),
    )


@dataclass
class WarmPipeline:
    key: PipelineKey
    spec: PipelineSpec
    pipe: Any
    adapters: ResidentAdapters
    memory_bytes: int
    embeddings: PromptEmbeddings
    """Prompt embeddings of recent texts (bounded apart from `memory_bytes`)."""
    fused: tuple[AdapterSpec, ...] = ()
    last_used: float = field(default_factory=time.monotonic)

    @property
    def label(self) -> str:
        """The artifact id, plus `+id` for each adapter fused into it."""
        return "+".join((self.spec.artifact_id, *(a.artifact_id for a in self.fused)))


@dataclass(frozen=True)
class AdapterPolicy:
    max_resident: int = 4
    hotswap: bool = False
    hotswap_target_rank: int = 16


class AdapterStore:
    """Verified adapter state dicts, read from disk once per file while they stay in the store
    (each is read whole, hashed and deserialised from the same bytes). The store keeps at most
    `max_bytes` of tensors in host memory and `max_entries` adapters, dropping the least recently
    used first: a real FLUX LoRA is tens of MB to over a GB, so a count alone could hold tens of
    GB. The adapter just loaded is returned whatever its size, but kept only when it fits."""

    def __init__(self, cache_dir: Path | None, max_bytes: int = 2 * 2**30, max_entries: int = 64) -> None:
        self._cache_dir = cache_dir
        self._entries: TensorCache[dict[str, torch.Tensor]] = TensorCache(max_bytes, max_entries)
        self.reads = 0
        """Files read and verified since the store was made."""

    @property
    def held_bytes(self) -> int:
        """Bytes of tensors the store holds now."""
        return self._entries.nbytes

    def load(self, spec: AdapterSpec) -> dict[str, torch.Tensor]:
        key = (spec.artifact_id, spec.sha256)
        cached = self._entries.get(key)
        if cached is not None:
            return cached
        path = adapter_file(spec, self._cache_dir)
        # `read_verified` refuses pickle formats, and `safetensors.torch.load` parses only the
        # safetensors format (a JSON header and raw tensor bytes): nothing in it can run
        state_dict = safetensors.torch.load(read_verified(path, spec.sha256, f"adapter {spec.artifact_id}"))
        self.reads += 1
        self._entries.put(key, state_dict, state_dict.values())
        return state_dict


class WarmPipelineCache:
    def __init__(
        self,
        placement: Placement,
        memory_budget_bytes: int,
        adapter_policy: AdapterPolicy,
        adapter_store: AdapterStore,
        hub_cache_dir: Path | None = None,
        on_change: Callable[[], None] | None = None,
        prompt_cache_bytes: int = 0,
    ) -> None:
        self._placement = placement
        self._budget = memory_budget_bytes
        self._policy = adapter_policy
        self._store = adapter_store
        self._hub_cache_dir = hub_cache_dir
        self._prompt_cache_bytes = prompt_cache_bytes
        self._warm: OrderedDict[PipelineKey, WarmPipeline] = OrderedDict()
        self._on_change = on_change or (lambda: None)
        self.loads = 0

    def peek(self, key: PipelineKey) -> WarmPipeline | None:
        return self._warm.get(key)

    def warm(self) -> tuple[WarmPipeline, ...]:
        return tuple(self._warm.values())

    def get(self, task: GenerationTask) -> tuple[WarmPipeline, float]:
        """The warm pipeline for the task, loading it if needed; also the seconds spent loading."""
        key = pipeline_key(task)
        found = self._warm.get(key)
        if found is not None:
            self._warm.move_to_end(key)
            found.last_used = time.monotonic()
            return found, 0.0
        started = time.perf_counter()
        with BUILDING_MODULES:
            loaded = self._load(key, task)
        self._make_room(loaded.memory_bytes)
        self._warm[key] = loaded
        self.loads += 1
        self._on_change()
        return loaded, time.perf_counter() - started

    def evict_all(self) -> None:
        self._warm.clear()
        self._on_change()

    def _make_room(self, incoming: int) -> None:
        while self._warm and sum(w.memory_bytes for w in self._warm.values()) + incoming > self._budget:
            self._warm.popitem(last=False)
        if self._placement.device.type == "cuda":
            torch.cuda.empty_cache()

    def _load(self, key: PipelineKey, task: GenerationTask) -> WarmPipeline:
        spec = task.pipeline
        traits = traits_of(spec.family)
        directory = pipeline_directory(spec, self._hub_cache_dir)
        verify_pipeline_dir(directory, spec.weights)  # before anything is deserialised
        try:
            pipe = traits.load_class().from_pretrained(
                directory, use_safetensors=True, dtype=self._placement.dtype, local_files_only=True
            )
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise PipelineLoadError(f"pipeline {spec.artifact_id}: {exc}") from exc
        pipe.to(self._placement.device)
        pin_execution_device(pipe, self._placement.device)
        pipe.set_progress_bar_config(disable=True)
        fused = task.always_on_adapters
        if fused:
            self._fuse(pipe, fused)
        adapters = ResidentAdapters(
            pipe,
            max_resident=self._policy.max_resident,
            hotswap=self._policy.hotswap,
            target_rank=self._policy.hotswap_target_rank,
        )
        return WarmPipeline(
            key=key,
            spec=spec,
            pipe=pipe,
            adapters=adapters,
            memory_bytes=module_bytes(pipe),
            embeddings=PromptEmbeddings(traits.conditioning, self._prompt_cache_bytes),
            fused=fused,
        )

    def _fuse(self, pipe: Any, fused: tuple[AdapterSpec, ...]) -> None:
        """Fuse always-on adapters into the base weights once, then drop their LoRA layers."""
        for index, spec in enumerate(fused):
            state_dict = self._store.load(spec)
            expected = check_adapter_fits(pipe, convert_adapter(pipe, state_dict), spec.artifact_id)
            name = f"fused{index}"
            pipe.load_lora_weights(private_copy(state_dict), adapter_name=name)
            attached = count_attached_layers(pipe, name)
            if attached < expected:
                raise AdapterMismatchError(
                    f"adapter {spec.artifact_id}: attached to {attached} of {expected} layers it targets"
                )
            pipe.fuse_lora(adapter_names=[name], lora_scale=spec.scale)
        pipe.unload_lora_weights()


def module_bytes(pipe: Any) -> int:
    """Parameter and buffer bytes of every torch component: the bulk of a pipeline's memory."""
    total = 0
    for component in pipe.components.values():
        if isinstance(component, torch.nn.Module):
            total += tensor_bytes(component.parameters()) + tensor_bytes(component.buffers())
    return total


_PINNED_CLASSES: dict[type, type] = {}


def pin_execution_device(pipe: Any, device: torch.device) -> None:
    """Answer diffusers' `_execution_device` with `device` instead of a search.

    diffusers computes it on every access (several per pipeline call) by walking every module of
    every component for offload hooks: 1.4 ms per access on the tiny FLUX.1 with one adapter, 3.2
    ms with four resident (this CPU), growing with the adapters resident. This runner never
    offloads: it places every model on `device` itself. The pipeline keeps its class's behaviour
    through a subclass that differs in this property alone.
    """
    base = type(pipe)
    pinned = _PINNED_CLASSES.get(base)
    if pinned is None:
        pinned = type(
            base.__name__, (base,), {"_execution_device": property(lambda self: self._pinned_device)}
        )
        _PINNED_CLASSES[base] = pinned
    pipe.__class__ = pinned
    pipe._pinned_device = device
