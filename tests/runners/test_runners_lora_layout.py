"""Copying an adapter into an evicted slot of a higher rank (zero-padded) gives the adapter's own
result, whatever the slot's scaling: checked on peft's real LoRA layers."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from peft import LoraConfig, inject_adapter_in_model

from runners.local.lora_layout import ConvertedAdapter, capture_layout


class _Denoiser(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(6, 5)


def _slot(rank: int, alpha: float) -> tuple[SimpleNamespace, ConvertedAdapter]:
    """A "pipeline" whose denoiser holds slot `s0` of `rank` and `alpha`, and the adapter loaded there."""
    torch.manual_seed(0)
    denoiser = inject_adapter_in_model(
        LoraConfig(r=rank, lora_alpha=alpha, target_modules=["proj"], init_lora_weights=False),
        _Denoiser(),
        adapter_name="s0",
    )
    loaded = {
        "transformer.proj.lora_A.weight": denoiser.proj.lora_A["s0"].weight.detach().clone(),
        "transformer.proj.lora_B.weight": denoiser.proj.lora_B["s0"].weight.detach().clone(),
    }
    return SimpleNamespace(components={"transformer": denoiser}), ConvertedAdapter(tensors=loaded, alphas={})


def _rank4() -> ConvertedAdapter:
    generator = torch.Generator().manual_seed(1)
    return ConvertedAdapter(
        tensors={
            "transformer.proj.lora_A.weight": torch.randn(4, 6, generator=generator),
            "transformer.proj.lora_B.weight": torch.randn(5, 4, generator=generator),
        },
        alphas={},
    )


def test_a_lower_rank_adapter_copied_into_a_slot_gives_its_own_delta_whatever_the_slot_scaling() -> None:
    adapter = _rank4()
    x = torch.randn(3, 6, generator=torch.Generator().manual_seed(2))
    a = adapter.tensors["transformer.proj.lora_A.weight"]
    b = adapter.tensors["transformer.proj.lora_B.weight"]
    for alpha in (8.0, 16.0, 2.0):  # slot scaling 1, 2 and 0.25
        pipe, loaded = _slot(8, alpha)
        layer = pipe.components["transformer"].proj
        layout = capture_layout(pipe, "s0", loaded)
        assert layout is not None
        assert layout.accepts(adapter)

        layout.copy_from(adapter)

        with torch.no_grad():
            expected = layer.base_layer(x) + x @ a.T @ b.T  # no alphas: a fresh load scales by 1
            torch.testing.assert_close(layer(x), expected)


def test_an_adapter_that_does_not_fit_a_slot_zero_padded_is_refused() -> None:
    pipe, loaded = _slot(4, 4.0)
    layout = capture_layout(pipe, "s0", loaded)
    assert layout is not None
    higher = ConvertedAdapter(
        tensors={
            "transformer.proj.lora_A.weight": torch.zeros(8, 6),
            "transformer.proj.lora_B.weight": torch.zeros(5, 8),
        },
        alphas={},
    )
    with_alpha = ConvertedAdapter(tensors=_rank4().tensors, alphas={"transformer.proj.alpha": 2.0})
    other_layer = ConvertedAdapter(
        tensors={
            "transformer.proj.lora_A.weight": torch.zeros(2, 7),
            "transformer.proj.lora_B.weight": torch.zeros(5, 2),
        },
        alphas={},
    )
    pipe8, loaded8 = _slot(8, 8.0)
    layout8 = capture_layout(pipe8, "s0", loaded8)
    assert layout8 is not None

    assert not layout.accepts(higher)  # rank 8 into a rank-4 slot
    assert not layout8.accepts(with_alpha)  # its scaling on a fresh load is not known to be 1
    assert not layout8.accepts(other_layer)  # another input width
    assert layout8.accepts(_rank4())
