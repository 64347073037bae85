"""Loading an adapter into the layers another one left behind.

A fresh load (`load_lora_weights`) converts the state dict, builds a peft config, walks the whole
model to inject new layers and walks it again to load their weights: on a small model that Python
work costs as much as a denoising call, on every swap. Two adapters whose converted state dicts
have the same keys, shapes and alphas build the same config and the same layers, so an adapter can
instead be copied into an evicted slot with that layout: its tensors are copied into the slot's
parameters, nothing is injected or deleted, and memory stays as flat as with `delete_adapters`.

The mapping from state-dict keys to parameters is taken right after a fresh load, and only when
every key names one parameter of the slot with its shape and the values peft loaded there, and
every parameter of the slot is covered; otherwise the slot has no layout and is always reloaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

LayoutSignature = tuple[tuple[tuple[str, tuple[int, ...]], ...], tuple[tuple[str, float], ...]]
"""((converted key, shape), ...), ((alpha key, value), ...)."""

_PEFT_WEIGHTS = (".lora_A.weight", ".lora_B.weight")


@dataclass(frozen=True)
class ConvertedAdapter:
    """An adapter's state dict as the pipeline class converts it before loading."""

    tensors: dict[str, torch.Tensor]
    alphas: dict[str, float]

    @property
    def signature(self) -> LayoutSignature:
        shapes = tuple(sorted((key, tuple(tensor.shape)) for key, tensor in self.tensors.items()))
        return shapes, tuple(sorted(self.alphas.items()))


def convert_adapter(pipe: Any, state_dict: dict[str, torch.Tensor]) -> ConvertedAdapter:
    converted = type(pipe).lora_state_dict(dict(state_dict))
    alphas: dict[str, float] = {}
    if isinstance(converted, tuple):
        converted, *extras = converted
        for extra in extras:
            if isinstance(extra, dict):
                alphas.update({str(k): float(v) for k, v in extra.items()})
    tensors: dict[str, torch.Tensor] = {}
    for key, value in converted.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1 and key.endswith("alpha"):
            alphas[key] = float(value)
        elif isinstance(value, torch.Tensor):
            tensors[key] = value
    return ConvertedAdapter(tensors=tensors, alphas=alphas)


@dataclass(frozen=True)
class SlotLayout:
    """The parameters peft built for one slot, by the converted key each was loaded from."""

    signature: LayoutSignature
    parameters: dict[str, torch.nn.Parameter]

    def accepts(self, adapter: ConvertedAdapter) -> bool:
        return adapter.signature == self.signature

    def copy_from(self, adapter: ConvertedAdapter) -> None:
        with torch.no_grad():
            for key, parameter in self.parameters.items():
                parameter.copy_(adapter.tensors[key])


def capture_layout(pipe: Any, slot: str, adapter: ConvertedAdapter) -> SlotLayout | None:
    """The slot's layout right after `adapter` was freshly loaded into it, or None when the slot
    holds anything a plain copy of `adapter`'s tensors would not reproduce."""
    owned: dict[str, torch.nn.Parameter] = {}
    for component_name, component in pipe.components.items():
        if isinstance(component, torch.nn.Module):
            for name, parameter in component.named_parameters():
                if slot in name.split("."):
                    owned[f"{component_name}.{name}"] = parameter
    parameters: dict[str, torch.nn.Parameter] = {}
    for key, tensor in adapter.tensors.items():
        suffix = next((s for s in _PEFT_WEIGHTS if key.endswith(s)), None)
        if suffix is None:
            return None
        kind = suffix.split(".")[1]
        found = owned.get(f"{key.removesuffix(suffix)}.{kind}.{slot}.weight")
        if found is None or found.shape != tensor.shape:
            return None
        if not torch.equal(found.detach().cpu(), tensor.to(found.dtype)):
            return None
        parameters[key] = found
    if len(parameters) != len(owned):
        return None
    return SlotLayout(signature=adapter.signature, parameters=parameters)
