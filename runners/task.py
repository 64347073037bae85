"""What a runner is asked to do and what it gives back.

A `GenerationTask` is fully resolved by the gateway: every weight is pinned by sha256, every
adapter's scale is decided. Runners know pipelines, adapters and devices, never tenants or
licenses, so nothing here refers to either.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum
from typing import Annotated

import msgspec

from runners.errors import TaskValidationError

Sha256 = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
MAX_SEED = 2**63 - 1


class ModelFamily(StrEnum):
    """Pipeline families; the strings match `Artifact.family` in the catalog."""

    SD1 = "sd1"
    FLUX1 = "flux1"
    FLUX2 = "flux2"
    FLUX2_KLEIN = "flux2-klein"
    PROVIDER = "provider"
    """A proprietary model behind a provider's API."""


class LocalSource(msgspec.Struct, frozen=True, tag="local", tag_field="kind"):
    """A directory (pipeline) or a directory holding the weight file (adapter) on this host."""

    path: str


class HubSource(msgspec.Struct, frozen=True, tag="hub", tag_field="kind"):
    """A Hugging Face repository pinned to a commit, so the bytes cannot change underneath."""

    repo: str
    revision: str

    def __post_init__(self) -> None:
        if not _COMMIT.match(self.revision):
            raise TaskValidationError(
                f"source {self.repo}: revision {self.revision!r} is not a 40-hex commit; pin it"
            )


class ProviderModelSource(msgspec.Struct, frozen=True, tag="provider", tag_field="kind"):
    """A model served by a remote provider; the runner's settings say where and with what key."""

    model: str


Source = LocalSource | HubSource | ProviderModelSource


class PipelineSpec(msgspec.Struct, frozen=True, kw_only=True):
    artifact_id: str
    family: ModelFamily
    source: Source
    weights: dict[str, Sha256] = {}
    """sha256 of every weight file, keyed by its path relative to the pipeline root
    (e.g. `unet/diffusion_pytorch_model.safetensors`). Every `*.safetensors` file found must be
    listed here; provider models have none."""

    def __post_init__(self) -> None:
        _check_hashes(self.artifact_id, self.weights.values())


class AdapterSpec(msgspec.Struct, frozen=True, kw_only=True):
    artifact_id: str
    source: LocalSource | HubSource
    weight_name: str
    """The safetensors file inside the source directory or repository."""
    sha256: Sha256
    scale: float = 1.0
    always_on: bool = False
    """Fused into the base once at load (a Turbo LoRA), not switched per task."""

    def __post_init__(self) -> None:
        _check_hashes(self.artifact_id, (self.sha256,))
        if not self.weight_name.endswith(".safetensors"):
            raise TaskValidationError(
                f"adapter {self.artifact_id}: weight_name {self.weight_name!r} is not a .safetensors file"
            )
        if not -8.0 <= self.scale <= 8.0:
            raise TaskValidationError(f"adapter {self.artifact_id}: scale {self.scale} outside [-8, 8]")


class GenerationTask(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    pipeline: PipelineSpec
    adapters: tuple[AdapterSpec, ...] = ()
    """In order; always-on ones are fused at load, the others are switched per task."""
    prompt: str
    negative_prompt: str = ""
    width: int = 512
    height: int = 512
    steps: int = 28
    guidance: float = 3.5
    sigmas: tuple[float, ...] | None = None
    """Passed to the scheduler as given (a Turbo LoRA's schedule); its length must equal steps."""
    seed: int = 0
    """Image i of the task uses seed + i, so each image can be reproduced on its own."""
    num_images: int = 1

    def __post_init__(self) -> None:
        where = f"task {self.task_id}"
        if not self.task_id:
            raise TaskValidationError("task_id is empty")
        for name, value in (("width", self.width), ("height", self.height)):
            if value < 8 or value > 8192 or value % 8:
                raise TaskValidationError(f"{where}: {name} {value} must be a multiple of 8 in [8, 8192]")
        if not 1 <= self.steps <= 1000:
            raise TaskValidationError(f"{where}: steps {self.steps} outside [1, 1000]")
        if not 0.0 <= self.guidance <= 100.0:
            raise TaskValidationError(f"{where}: guidance {self.guidance} outside [0, 100]")
        if self.sigmas is not None and len(self.sigmas) != self.steps:
            raise TaskValidationError(
                f"{where}: sigmas has {len(self.sigmas)} values but steps is {self.steps}"
            )
        if not 0 <= self.seed <= MAX_SEED - 64:
            raise TaskValidationError(f"{where}: seed {self.seed} outside [0, 2**63-65]")
        if not 1 <= self.num_images <= 16:
            raise TaskValidationError(f"{where}: num_images {self.num_images} outside [1, 16]")
        names = [a.artifact_id for a in self.adapters]
        if len(set(names)) != len(names):
            raise TaskValidationError(f"{where}: an adapter is listed twice in {names}")

    @property
    def switched_adapters(self) -> tuple[AdapterSpec, ...]:
        return tuple(a for a in self.adapters if not a.always_on)

    @property
    def always_on_adapters(self) -> tuple[AdapterSpec, ...]:
        return tuple(a for a in self.adapters if a.always_on)

    def image_seeds(self) -> tuple[int, ...]:
        return tuple(self.seed + i for i in range(self.num_images))


class GeneratedImage(msgspec.Struct, frozen=True):
    png: bytes
    seed: int


class Timings(msgspec.Struct, frozen=True, kw_only=True):
    """Seconds spent in each phase; a batch's shared phases are charged to every task in it."""

    queue_s: float = 0.0
    load_s: float = 0.0
    adapter_swap_s: float = 0.0
    inference_s: float = 0.0


class GenerationResult(msgspec.Struct, frozen=True, kw_only=True):
    task_id: str
    images: tuple[GeneratedImage, ...]
    timings: Timings
    device: str
    batch_size: int = 1
    """Images computed in the same pipeline call as this task's (its own included)."""


class ProgressEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One denoising step finished."""

    task_id: str
    step: int
    """1-based."""
    total_steps: int


def _check_hashes(owner: str, hashes: Iterable[str]) -> None:
    for value in hashes:
        if not _SHA256.match(value):
            raise TaskValidationError(f"{owner}: {value!r} is not a lowercase hex sha256")
