"""LoRA adapters resident on one warm pipeline.

Switching adapters is global model state in diffusers, so this object belongs to the single
worker that owns the pipeline. At most `max_resident` adapters stay loaded; the least recently
used one makes room, either deleted (`delete_adapters`, so memory stays flat) or, in hot-swap
mode, overwritten in place (`load_lora_weights(..., hotswap=True)` into a slot prepared by
`enable_lora_hotswap`), so a compiled denoiser does not recompile for a new adapter in a slot it
has run (it does compile once per slot that `set_adapters` activates: docs/runners.md). Outside
hot-swap mode an evicted slot whose layers fit the incoming adapter is reused: its tensors are
copied in place (`lora_layout`; an adapter of a lower rank zero-padded), which skips the
injection walk of a fresh load. A batch that
mixes adapters (`mixing`) has them all made resident together first, each load on its own, so an
adapter that fails fails only the tasks that use it; which components each adapter reaches is
remembered past its eviction, so the scheduler knows which ones may mix.

diffusers loads an adapter for the wrong model without complaint when none of its keys name a
layer of the pipeline (it only logs). Each adapter is therefore checked against the pipeline's
modules before loading, and the layers peft attached are counted after.
"""

from __future__ import annotations

import itertools
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch

from runners.errors import AdapterMismatchError, RunnerError, TaskValidationError
from runners.local.lora_layout import ConvertedAdapter, SlotLayout, capture_layout, convert_adapter
from runners.modules import BUILDING_MODULES
from runners.task import AdapterSpec

AdapterKey = tuple[str, str]
"""(artifact id, sha256): the same id with other bytes is another adapter."""
ScaledAdapterKey = tuple[str, str, float]

StateDictLoader = Callable[[AdapterSpec], dict[str, torch.Tensor]]

_LORA_MARKERS = (
    ".lora_A",
    ".lora_B",
    ".lora.down",
    ".lora.up",
    ".lora_down",
    ".lora_up",
    ".alpha",
    ".lora_magnitude_vector",
)
_DOWN_MARKERS = (".lora_A.weight", ".lora.down.weight", ".lora_down.weight")
_REACH_REMEMBERED = 1024


def adapter_key(spec: AdapterSpec) -> AdapterKey:
    return (spec.artifact_id, spec.sha256)


def scaled_keys(adapters: tuple[AdapterSpec, ...]) -> tuple[ScaledAdapterKey, ...]:
    return tuple((a.artifact_id, a.sha256, a.scale) for a in adapters)


class ResidentAdapters:
    def __init__(self, pipe: Any, *, max_resident: int, hotswap: bool, target_rank: int) -> None:
        if max_resident < 1:
            raise ValueError("max_resident must be at least 1")
        self._pipe = pipe
        self._max = max_resident
        self._hotswap = hotswap
        self._slots: OrderedDict[str, AdapterKey] = OrderedDict()
        """Slot (peft adapter name) -> adapter held there, least recently used first."""
        self._layouts: dict[str, SlotLayout] = {}
        """Slots another adapter of the same layout can be copied into."""
        self._reach: dict[str, frozenset[str]] = {}
        """Slot -> the pipeline components its adapter has layers in."""
        self._reach_seen: OrderedDict[AdapterKey, frozenset[str]] = OrderedDict()
        """The same for adapters loaded here lately, evicted or not (the scheduler asks)."""
        self._names = (f"slot{i}" for i in itertools.count())
        self._active: tuple[tuple[AdapterKey, float], ...] = ()
        self._lora_enabled = False
        self.loads = 0
        self.evictions = 0
        self.hotswap_fallbacks = 0
        self.in_place_loads = 0
        """Loads that copied an adapter into an evicted slot of the same layout."""
        if hotswap:
            pipe.enable_lora_hotswap(target_rank=target_rank)

    # What the scheduler asks: is a task's adapter set free, cheap or costly to reach?
    def is_active(self, adapters: tuple[ScaledAdapterKey, ...]) -> bool:
        return self._active == tuple(((i, s), scale) for i, s, scale in adapters)

    def is_resident(self, adapters: tuple[ScaledAdapterKey, ...]) -> bool:
        held = set(self._slots.values())
        return all((i, s) in held for i, s, _ in adapters)

    def reach(self, key: AdapterKey) -> frozenset[str] | None:
        """The pipeline components an adapter has layers in, when it is or was lately loaded here."""
        slot = self.slot_of(key)
        if slot is not None and slot in self._reach:
            return self._reach[slot]
        found = self._reach_seen.get(key)
        if found is not None:
            self._reach_seen.move_to_end(key)
        return found

    def slot_of(self, key: AdapterKey) -> str | None:
        """The peft adapter name a resident adapter is loaded under."""
        return next((slot for slot, held in self._slots.items() if held == key), None)

    def resident_ids(self) -> tuple[str, ...]:
        return tuple(key[0] for key in self._slots.values())

    def active_ids(self) -> tuple[str, ...]:
        return tuple(key[0] for key, _ in self._active)

    def active_beyond(self, component: str) -> tuple[tuple[AdapterKey, float], ...]:
        """The active adapters, with their scales, that have layers outside `component` (the
        denoiser), i.e. in a text encoder: prompt embeddings depend on exactly these."""
        slot_of = {held: slot for slot, held in self._slots.items()}
        return tuple(
            (key, scale)
            for key, scale in self._active
            # a slot of unknown reach counts as reaching everything
            if self._reach.get(slot_of.get(key, ""), frozenset({"?"})) - {component}
        )

    def make_resident(
        self, adapters: tuple[AdapterSpec, ...], load_state_dict: StateDictLoader
    ) -> dict[AdapterKey, RunnerError]:
        """Load whichever of `adapters` is not resident, so that all are resident together; an
        adapter that fails to load is returned with its error instead of raised, so that the tasks
        of a mixed batch that use the others can still run."""
        self._check_room(adapters)
        wanted = {adapter_key(a) for a in adapters}
        failed: dict[AdapterKey, RunnerError] = {}
        for spec in adapters:
            key = adapter_key(spec)
            if key in failed or self.slot_of(key) is not None:
                continue
            try:
                self._load(spec, load_state_dict, protect=wanted)
            except RunnerError as exc:
                failed[key] = exc
        return failed

    def activate(self, adapters: tuple[AdapterSpec, ...], load_state_dict: StateDictLoader) -> None:
        """Make exactly `adapters` active with their scales, loading what is not resident."""
        self._check_room(adapters)
        wanted = {adapter_key(a) for a in adapters}
        names: list[str] = []
        for spec in adapters:
            slot = self.slot_of(adapter_key(spec))
            if slot is None:
                slot = self._load(spec, load_state_dict, protect=wanted)
            self._slots.move_to_end(slot)
            names.append(slot)
        target = tuple((adapter_key(a), a.scale) for a in adapters)
        if target == self._active:
            return
        if not adapters:
            if self._slots:
                self._pipe.disable_lora()
            self._lora_enabled = False
        else:
            if not self._lora_enabled:
                self._pipe.enable_lora()
                self._lora_enabled = True
            self._pipe.set_adapters(names, adapter_weights=[a.scale for a in adapters])
        self._active = target

    def _check_room(self, adapters: tuple[AdapterSpec, ...]) -> None:
        if len({adapter_key(a) for a in adapters}) > self._max:
            raise TaskValidationError(
                f"{len(adapters)} adapters asked for at once; this runner keeps at most {self._max} resident"
            )

    def _load(self, spec: AdapterSpec, load_state_dict: StateDictLoader, protect: set[AdapterKey]) -> str:
        state_dict = load_state_dict(spec)
        converted = convert_adapter(self._pipe, state_dict)
        self._active = ()  # whatever was active may change below; set_adapters runs again
        if len(self._slots) >= self._max and not self._hotswap:
            reusable = self._reusable_slot(converted, protect)
            if reusable is not None:
                self._layouts[reusable].copy_from(converted)
                self._slots[reusable] = adapter_key(spec)
                self._remember_reach(reusable, spec, converted)
                self.evictions += 1
                self.loads += 1
                self.in_place_loads += 1
                return reusable
        expected = check_adapter_fits(self._pipe, converted, spec.artifact_id)
        if len(self._slots) < self._max:
            slot = next(self._names)
            self._load_into(slot, spec, state_dict, hotswap=False, expected=expected)
        else:
            slot = next(s for s, held in self._slots.items() if held not in protect)
            del self._slots[slot]
            self.evictions += 1
            if self._hotswap:
                try:
                    self._load_into(slot, spec, state_dict, hotswap=True, expected=expected)
                except AdapterMismatchError:
                    # Hot-swap needs the slot's target layers and a rank <= target_rank; the adapter
                    # fits the pipeline (checked above), so load it fresh (a compiled model recompiles).
                    slot = next(self._names)
                    self._load_into(slot, spec, state_dict, hotswap=False, expected=expected)
                    self.hotswap_fallbacks += 1
            else:
                self._pipe.delete_adapters(slot)
                self._layouts.pop(slot, None)
                self._reach.pop(slot, None)
                slot = next(self._names)
                self._load_into(slot, spec, state_dict, hotswap=False, expected=expected)
        if not self._hotswap:
            layout = capture_layout(self._pipe, slot, converted)
            if layout is not None:
                self._layouts[slot] = layout
        self._slots[slot] = adapter_key(spec)
        self._remember_reach(slot, spec, converted)
        self.loads += 1
        return slot

    def _remember_reach(self, slot: str, spec: AdapterSpec, converted: ConvertedAdapter) -> None:
        reach = reach_of(converted)
        self._reach[slot] = reach
        self._reach_seen[adapter_key(spec)] = reach
        self._reach_seen.move_to_end(adapter_key(spec))
        while len(self._reach_seen) > _REACH_REMEMBERED:
            self._reach_seen.popitem(last=False)

    def _reusable_slot(self, adapter: ConvertedAdapter, protect: set[AdapterKey]) -> str | None:
        """The least recently used evictable slot whose layers `adapter` fits exactly, if any."""
        for slot, held in self._slots.items():
            layout = self._layouts.get(slot)
            if held not in protect and layout is not None and layout.accepts(adapter):
                return slot
        return None

    def _load_into(
        self,
        slot: str,
        spec: AdapterSpec,
        state_dict: dict[str, torch.Tensor],
        *,
        hotswap: bool,
        expected: int,
    ) -> None:
        try:
            with BUILDING_MODULES:  # injects the adapter's layers
                self._pipe.load_lora_weights(private_copy(state_dict), adapter_name=slot, hotswap=hotswap)
        except (RuntimeError, ValueError, KeyError) as exc:
            self._forget(slot)
            raise AdapterMismatchError(
                f"adapter {spec.artifact_id} does not fit this pipeline: {exc}"
            ) from exc
        if self._hotswap:
            self._pin_scaling(slot)
        attached = count_attached_layers(self._pipe, slot)
        if attached < expected:
            self._forget(slot)
            raise AdapterMismatchError(
                f"adapter {spec.artifact_id}: attached to {attached} of {expected} layers it targets"
            )

    def _pin_scaling(self, slot: str) -> None:
        """peft's hot-swap writes the new adapter's alpha/rank into `scaling` only, while
        `set_adapters` recomputes scaling from the slot's original `lora_alpha` and `r`; record the
        new adapter's alpha so that per-task scales multiply the right base."""
        for component in self._pipe.components.values():
            if not isinstance(component, torch.nn.Module):
                continue
            layer: Any
            for layer in component.modules():
                scaling = getattr(layer, "scaling", None)
                if isinstance(scaling, dict) and slot in scaling:
                    layer.lora_alpha[slot] = float(scaling[slot]) * layer.r[slot]

    def _forget(self, slot: str) -> None:
        self._slots.pop(slot, None)
        self._layouts.pop(slot, None)
        self._reach.pop(slot, None)
        if any(slot in names for names in self._pipe.get_list_adapters().values()):
            self._pipe.delete_adapters(slot)


def reach_of(adapter: ConvertedAdapter) -> frozenset[str]:
    """The components an adapter has layers in (converted keys start with the component name)."""
    return frozenset(key.partition(".")[0] for key in adapter.tensors)


def private_copy(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """peft may adopt the given tensors as the layer's parameters, and a later hot-swap writes into
    those parameters in place: without a copy it would overwrite the cached adapter."""
    return {key: tensor.clone() for key, tensor in state_dict.items()}


def check_adapter_fits(pipe: Any, adapter: ConvertedAdapter, artifact_id: str) -> int:
    """Check, before loading, that every layer the adapter targets exists in the pipeline with the
    same input width; return how many layers it targets."""
    targets: dict[tuple[str, str], torch.Tensor | None] = {}
    for key, tensor in adapter.tensors.items():
        component, _, rest = key.partition(".")
        cut = min((rest.find(m) for m in _LORA_MARKERS if m in rest), default=-1)
        if cut < 0:
            continue
        module_path = rest[:cut]
        is_down = any(rest.endswith(m) for m in _DOWN_MARKERS)
        if is_down or (component, module_path) not in targets:
            targets[(component, module_path)] = tensor if is_down else targets.get((component, module_path))
    if not targets:
        raise AdapterMismatchError(f"adapter {artifact_id}: no LoRA layers found in its weights")
    modules_of: dict[str, dict[str, torch.nn.Module]] = {}
    missing: list[str] = []
    for (component, module_path), down in targets.items():
        owner = getattr(pipe, component, None)
        if not isinstance(owner, torch.nn.Module):
            missing.append(f"{component}.{module_path}")
            continue
        modules = modules_of.setdefault(component, dict(owner.named_modules()))
        module = modules.get(module_path)
        if module is None:
            missing.append(f"{component}.{module_path}")
            continue
        base = getattr(module, "base_layer", module)
        in_features = getattr(base, "in_features", None)
        if down is not None and in_features is not None and down.ndim == 2 and down.shape[1] != in_features:
            raise AdapterMismatchError(
                f"adapter {artifact_id}: layer {component}.{module_path} takes {in_features} inputs, "
                f"the adapter gives {down.shape[1]}"
            )
    if missing:
        raise AdapterMismatchError(
            f"adapter {artifact_id}: {len(missing)} of {len(targets)} target layers are not in this "
            f"pipeline (first: {missing[0]}); it was made for another model"
        )
    return len(targets)


def count_attached_layers(pipe: Any, adapter_name: str) -> int:
    """Layers where peft injected `adapter_name`, over every component that takes LoRAs."""
    total = 0
    for component in pipe.components.values():
        if not isinstance(component, torch.nn.Module):
            continue
        for module in component.modules():
            lora_a = getattr(module, "lora_A", None)
            if isinstance(lora_a, torch.nn.ModuleDict) and adapter_name in lora_a:
                total += 1
    return total
