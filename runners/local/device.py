"""Device and dtype: CUDA in bfloat16 when present, CPU in float32 otherwise, so the same runner
works unchanged on a GPU host."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Placement:
    device: torch.device
    dtype: torch.dtype

    def describe(self) -> str:
        if self.device.type == "cuda":
            return f"cuda:{torch.cuda.get_device_name(self.device)} ({self.dtype})".replace("torch.", "")
        return f"{self.device.type} ({self.dtype})".replace("torch.", "")


def choose_placement(device: str = "auto") -> Placement:
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    chosen = torch.device(device)
    dtype = torch.bfloat16 if chosen.type == "cuda" else torch.float32
    return Placement(device=chosen, dtype=dtype)
