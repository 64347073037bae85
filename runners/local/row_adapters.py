"""One LoRA per batch row, for the length of one pipeline call.

peft's LoRA layers take `adapter_names=[...]` in `forward`, one resident adapter per row of the
input ("__base__" for none), and add to each row only that adapter's delta, scaled by the
adapter's current `scaling` (`set_adapters` sets it to the task's scale times alpha over rank,
whatever adapters are active). diffusers pipelines do not pass such an argument through, so, as
peft's own `_enable_peft_forward_hooks` does, forward pre-hooks on the denoiser's LoRA layers
inject it while the call runs.

peft routes by gathering each adapter's rows, running them through that adapter and scattering
the result back: per layer and step, about a dozen operators per adapter in the batch, each
gather and scatter indexed by a Python list (on a GPU a host-to-device copy that waits for the
stream). Four adapters made a batch-4 call of the tiny FLUX.1 1.9x the operators of the same call
through one adapter, the tiny SD 1.x 3.4x and half again its CPU time (`python -m bench.runners`). So a
plain linear LoRA layer, by far the most common kind, instead gets the rows' adapters as one: the
batch's adapters' down projections stacked, their up projections side by side, and a mask per row
that holds the adapter's scaling in the row's own rank columns and zero elsewhere, so that one
layer costs the same few operators however many adapters the batch holds; peft computes the base
output (every row "__base__") and a forward hook adds the delta. Other layers (convolutions, LoRA
variants such as DoRA, a LoRA bias) keep peft's routing. The stacked weights are built per call,
a transient copy of the batch's adapters; layers with the same ranks and scalings share a mask.

The rows a layer sees are the denoiser's batch: one per image, in the order of the prompt
embeddings, and twice over when the pipeline concatenates the unconditional rows of
classifier-free guidance in front of the conditional ones (SD 1.x). peft refuses names whose
number is not the input's, so a family that batches otherwise fails loudly instead of routing
adapters to the wrong images.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from peft.tuners.lora import LoraLayer
from peft.tuners.lora.layer import Linear as LoraLinear

BASE_ROW = "__base__"
"""peft's name for a row that gets no adapter."""


def _inject_adapter_names(
    _module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any], names: list[str]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, {**kwargs, "adapter_names": names}


def _add_row_deltas(
    _module: torch.nn.Module,
    args: tuple[Any, ...],
    _kwargs: dict[str, Any],
    output: torch.Tensor,
    down: torch.Tensor,
    up: torch.Tensor,
    mask: torch.Tensor,
) -> torch.Tensor:
    hidden = torch.nn.functional.linear(args[0].to(down.dtype), down)
    hidden = hidden * mask.view(mask.shape[0], *([1] * (hidden.ndim - 2)), mask.shape[1])
    return output + torch.nn.functional.linear(hidden, up).to(output.dtype)


def _stackable(layer: Any, used: list[str]) -> bool:
    """Whether the adapters' deltas in `layer` are plain `up(down(x)) * scaling`."""

    def plain(name: str) -> bool:
        dropout = layer.lora_dropout[name]
        return (
            name not in layer.lora_variant
            and not layer.lora_bias.get(name, False)
            and (isinstance(dropout, torch.nn.Identity) or not dropout.training)
        )

    return (
        type(layer) is LoraLinear
        and isinstance(layer.get_base_layer(), torch.nn.Linear)
        and not layer.fan_in_fan_out
        and all(plain(name) for name in used)
    )


MaskKey = tuple[tuple[str, ...], tuple[int, ...], tuple[float, ...], torch.device, torch.dtype]


def _stacked_hooks(
    layer: Any, names: list[str], used: list[str], masks: dict[MaskKey, torch.Tensor]
) -> list[Any]:
    """Hooks that add every row's own adapter delta to the layer's base output in one pass. The
    row masks carry the scaling; layers whose adapters have the same ranks and scalings (most of
    a model) share one per call."""
    downs = [layer.lora_A[name].weight for name in used]
    ranks = tuple(down.shape[0] for down in downs)
    scalings = tuple(float(layer.scaling[name]) for name in used)
    key = (tuple(used), ranks, scalings, downs[0].device, downs[0].dtype)
    mask = masks.get(key)
    if mask is None:
        owner = {name: i for i, name in enumerate(used)}
        columns = [
            (i, scaling)
            for i, (rank, scaling) in enumerate(zip(ranks, scalings, strict=True))
            for _ in range(rank)
        ]
        rows = [[scaling if owner.get(name) == i else 0.0 for i, scaling in columns] for name in names]
        mask = masks[key] = torch.tensor(rows, dtype=downs[0].dtype, device=downs[0].device)
    down = torch.cat(downs)
    up = torch.cat([layer.lora_B[name].weight for name in used], dim=1)
    base_only = partial(_inject_adapter_names, names=[BASE_ROW] * len(names))
    add = partial(_add_row_deltas, down=down, up=up, mask=mask)
    return [
        layer.register_forward_pre_hook(base_only, with_kwargs=True),
        layer.register_forward_hook(add, with_kwargs=True),
    ]


@contextmanager
def adapter_per_row(model: torch.nn.Module, names: Sequence[str], *, stacked: bool = True) -> Iterator[None]:
    """Route row i of every batch `model`'s LoRA layers see through adapter `names[i]` while the
    context is open; the hooks are removed on leaving it, also on an error or a cancellation.
    `stacked=False` leaves every layer to peft's routing (to compare).

    A name that no LoRA layer of `model` holds is refused (it would leave its rows silently at
    the base model, e.g. an adapter that reaches only a text encoder)."""
    names = list(names)
    layers = [module for module in model.modules() if isinstance(module, LoraLayer)]
    held: set[str] = set()
    for layer in layers:
        held.update(layer.lora_A.keys())
    unknown = sorted(set(names) - held - {BASE_ROW})
    if unknown:
        raise ValueError(f"no LoRA layer of {type(model).__name__} holds adapter(s) {', '.join(unknown)}")
    in_batch = list(dict.fromkeys(name for name in names if name != BASE_ROW))
    handles = []
    masks: dict[MaskKey, torch.Tensor] = {}
    try:
        with torch.no_grad():
            for layer in layers:
                used = [name for name in in_batch if name in layer.lora_A]
                if not used:
                    continue  # none of the batch's adapters here: the active ones are the batch's
                if stacked and _stackable(layer, used):
                    handles += _stacked_hooks(layer, names, used, masks)
                else:
                    hook = partial(_inject_adapter_names, names=names)
                    handles.append(layer.register_forward_pre_hook(hook, with_kwargs=True))
        yield
    finally:
        for handle in handles:
            handle.remove()
