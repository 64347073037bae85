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

An adapter of a lower rank on the same layers also fits a slot (zero-padded: the extra rows of
`lora_A` and columns of `lora_B` are zero, so the product is the adapter's own), provided its
scaling is known: it has no alphas, and diffusers then loads it fresh with `lora_alpha = r` on
every layer (`get_peft_kwargs`), a scaling of 1. The slot keeps its own alpha and rank, so its
`lora_B` is divided by the slot's scaling (`lora_alpha / r`, read from peft's layer). This matters
for streams over adapters of mixed ranks: a batch that mixes adapters protects all of them, so
the one slot left to evict often has another rank.
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
    """The parameters peft built for one slot, by the converted key each was loaded from, and the
    slot's scaling (`lora_alpha / r`) by the `lora_B` key of each layer."""

    signature: LayoutSignature
    parameters: dict[str, torch.nn.Parameter]
    scaling: dict[str, float]

    def accepts(self, adapter: ConvertedAdapter) -> bool:
        return adapter.signature == self.signature or self._pads(adapter)

    def _pads(self, adapter: ConvertedAdapter) -> bool:
        """Whether `adapter` fits zero-padded: the same keys, no alphas, on each layer a rank no
        larger than the slot's and every other dimension equal."""
        if adapter.alphas or adapter.tensors.keys() != self.parameters.keys():
            return False
        for key, tensor in adapter.tensors.items():
            shape = self.parameters[key].shape
            axis = 0 if key.endswith(_PEFT_WEIGHTS[0]) else 1
            if tensor.dim() != len(shape) or tensor.shape[axis] > shape[axis]:
                return False
            if any(tensor.shape[i] != shape[i] for i in range(len(shape)) if i != axis):
                return False
        return True

    def copy_from(self, adapter: ConvertedAdapter) -> None:
        padded = adapter.signature != self.signature
        with torch.no_grad():
            for key, parameter in self.parameters.items():
                tensor = adapter.tensors[key]
                if not padded:
                    parameter.copy_(tensor)
                elif key.endswith(_PEFT_WEIGHTS[0]):
                    parameter.zero_()
                    parameter[: tensor.shape[0]].copy_(tensor)
                else:
                    parameter.zero_()
                    parameter[:, : tensor.shape[1]].copy_(tensor / self.scaling[key])


def capture_layout(pipe: Any, slot: str, adapter: ConvertedAdapter) -> SlotLayout | None:
    """The slot's layout right after `adapter` was freshly loaded into it, or None when the slot
    holds anything a plain copy of `adapter`'s tensors would not reproduce."""
    owned: dict[str, torch.nn.Parameter] = {}
    layer_scaling: dict[str, float] = {}
    for component_name, component in pipe.components.items():
        if isinstance(component, torch.nn.Module):
            for name, parameter in component.named_parameters():
                if slot in name.split("."):
                    owned[f"{component_name}.{name}"] = parameter
            for name, module in component.named_modules():
                alpha, rank = getattr(module, "lora_alpha", None), getattr(module, "r", None)
                if isinstance(alpha, dict) and isinstance(rank, dict) and rank.get(slot):
                    layer_scaling[f"{component_name}.{name}"] = float(alpha[slot]) / rank[slot]
    parameters: dict[str, torch.nn.Parameter] = {}
    scaling: dict[str, float] = {}
    differences: list[torch.Tensor] = []
    for key, tensor in adapter.tensors.items():
        suffix = next((s for s in _PEFT_WEIGHTS if key.endswith(s)), None)
        if suffix is None:
            return None
        layer = key.removesuffix(suffix)
        kind = suffix.split(".")[1]
        found = owned.get(f"{layer}.{kind}.{slot}.weight")
        if found is None or found.shape != tensor.shape or layer not in layer_scaling:
            return None
        # compared where the parameter lives, read back once for all (one device sync on a GPU)
        differences.append(torch.ne(found.detach(), tensor.to(found.device, found.dtype)).any())
        parameters[key] = found
        if suffix == _PEFT_WEIGHTS[1]:
            scaling[key] = layer_scaling[layer]
    if len(parameters) != len(owned):
        return None
    if differences and bool(torch.stack(differences).any()):
        return None
    return SlotLayout(signature=adapter.signature, parameters=parameters, scaling=scaling)
