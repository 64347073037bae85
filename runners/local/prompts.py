"""Prompt embeddings: each distinct text of a pipeline call is encoded once, and a warm pipeline
keeps the embeddings of recent texts.

Given `prompt=[...]`, diffusers runs the text encoders over every image's prompt, so a task of
four images, or a batch of four tasks with one prompt, encodes the same text four times; and every
call encodes again what the call before it encoded. On the tiny FLUX.1 the T5 encoder at its 512
tokens is about a quarter of a batch-4 call (`python -m bench.runners`); on a real FLUX.1 it is a
4.7B-parameter model. The runner therefore encodes each distinct text once per call (the
unconditional "" of classifier-free guidance included), keeps the rows in a byte-bounded LRU per
warm pipeline, and hands the pipeline `prompt_embeds` (and what else the family takes).

A row is what the pipeline's own `encode_prompt` returns for the text, so the pipeline computes
the same thing either way, up to the last bits that batching changes. The text encoders' output
depends on any LoRA layers active in them, so the cache key includes the active adapters that
reach a text encoder (none of the denoiser-only adapters do).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch

from runners.local.tensor_cache import TensorCache

Row = tuple[torch.Tensor, ...]
"""One text's embeddings, without the batch dimension (e.g. T5 states and the pooled CLIP vector)."""


class TextConditioning(Protocol):
    """How a family's pipeline encodes texts and takes the result back."""

    def encode(self, pipe: Any, texts: list[str]) -> list[Row]:
        """One row per text, from the pipeline's own `encode_prompt`, in one call."""
        ...

    def needs_unconditional(self, pipe: Any, guidance: float) -> bool:
        """Whether the call runs classifier-free guidance, i.e. needs negative embeddings."""
        ...

    def call_kwargs(self, rows: list[Row], negatives: list[Row] | None) -> dict[str, Any]:
        """Pipeline arguments for one image per row (negatives: the same length, when needed)."""
        ...


def _stack(rows: Sequence[Row], part: int) -> torch.Tensor:
    return torch.stack([row[part] for row in rows])


@dataclass(frozen=True)
class Flux1Conditioning:
    """T5 states and the pooled CLIP vector; no negative prompt (guidance is distilled)."""

    def encode(self, pipe: Any, texts: list[str]) -> list[Row]:
        states, pooled, _ = pipe.encode_prompt(
            prompt=texts, prompt_2=None, device=pipe._execution_device, num_images_per_prompt=1
        )
        return [(states[i], pooled[i]) for i in range(len(texts))]

    def needs_unconditional(self, pipe: Any, guidance: float) -> bool:
        return False

    def call_kwargs(self, rows: list[Row], negatives: list[Row] | None) -> dict[str, Any]:
        return {"prompt_embeds": _stack(rows, 0), "pooled_prompt_embeds": _stack(rows, 1)}


@dataclass(frozen=True)
class Flux2Conditioning:
    """Stacked hidden states of the text encoder; [klein] runs real classifier-free guidance with
    "" as the negative unless the checkpoint is guidance-distilled."""

    guided: bool

    def encode(self, pipe: Any, texts: list[str]) -> list[Row]:
        states, _ = pipe.encode_prompt(prompt=texts, device=pipe._execution_device, num_images_per_prompt=1)
        return [(states[i],) for i in range(len(texts))]

    def needs_unconditional(self, pipe: Any, guidance: float) -> bool:
        return self.guided and guidance > 1 and not pipe.config.is_distilled

    def call_kwargs(self, rows: list[Row], negatives: list[Row] | None) -> dict[str, Any]:
        kwargs = {"prompt_embeds": _stack(rows, 0)}
        if negatives is not None:
            kwargs["negative_prompt_embeds"] = _stack(negatives, 0)
        return kwargs


@dataclass(frozen=True)
class SD1Conditioning:
    """CLIP states; the negative prompt is encoded exactly as a prompt is (the pipeline pads both
    to the tokenizer's length), so one cache serves both."""

    def encode(self, pipe: Any, texts: list[str]) -> list[Row]:
        states, _ = pipe.encode_prompt(texts, pipe._execution_device, 1, False)
        return [(states[i],) for i in range(len(texts))]

    def needs_unconditional(self, pipe: Any, guidance: float) -> bool:
        return guidance > 1 and pipe.unet.config.time_cond_proj_dim is None

    def call_kwargs(self, rows: list[Row], negatives: list[Row] | None) -> dict[str, Any]:
        kwargs = {"prompt_embeds": _stack(rows, 0)}
        if negatives is not None:
            kwargs["negative_prompt_embeds"] = _stack(negatives, 0)
        return kwargs


class PromptEmbeddings:
    """Embedding rows of recently encoded texts for one warm pipeline, bounded by bytes (0 keeps
    nothing between calls; texts repeated within a call are still encoded once)."""

    def __init__(self, conditioning: TextConditioning, max_bytes: int) -> None:
        self.conditioning = conditioning
        self._rows: TensorCache[Row] = TensorCache(max_bytes)
        self.hits = 0
        self.encoded = 0
        """Texts run through the text encoders."""

    def rows(self, pipe: Any, texts: Sequence[str], context: Hashable = ()) -> list[Row]:
        """A row per text, in order; texts neither cached nor repeated are encoded in one call.
        `context` names whatever besides the text changes the encoders' output (their LoRAs)."""
        found: dict[str, Row] = {}
        missing: list[str] = []
        for text in dict.fromkeys(texts):
            row = self._rows.get((context, text))
            if row is None:
                missing.append(text)
            else:
                found[text] = row
                self.hits += 1
        if missing:
            encoded = self.conditioning.encode(pipe, missing)
            self.encoded += len(missing)
            for text, row in zip(missing, encoded, strict=True):
                row = tuple(part.clone() for part in row)  # not a view that keeps the batch alive
                found[text] = row
                self._rows.put((context, text), row, row)
        return [found[text] for text in texts]

    @property
    def nbytes(self) -> int:
        return self._rows.nbytes

    def clear(self) -> None:
        self._rows.clear()
