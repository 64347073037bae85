"""Weights are verified before anything is deserialised; pickle and custom code are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import msgspec
import pytest

from runners.errors import UnsafeWeightsError, WeightVerificationError
from runners.local import LocalDiffusersRunner
from runners.task import LocalSource, ModelFamily, PipelineSpec
from runners.tiny import TinyModelSet
from tests.runners.support_runner_tasks import make_task


def _copy(tiny_models: TinyModelSet, tmp_path: Path) -> tuple[Path, PipelineSpec]:
    model = tiny_models[ModelFamily.SD1]
    target = tmp_path / "sd1-copy"
    shutil.copytree(model.path, target)
    spec = msgspec.structs.replace(model.pipeline, source=LocalSource(path=str(target)))
    return target, spec


async def test_sha256_mismatch_is_refused_before_loading(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    directory, spec = _copy(tiny_models, tmp_path)
    weights = directory / "unet" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(b"not a safetensors file at all")  # would fail differently if parsed

    with pytest.raises(WeightVerificationError, match=r"unet/diffusion_pytorch_model.safetensors has sha256"):
        await runner.submit(make_task(spec))
    assert runner.cache.warm() == ()


async def test_unpinned_weight_file_is_refused(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    directory, spec = _copy(tiny_models, tmp_path)
    shutil.copy(
        directory / "vae" / "diffusion_pytorch_model.safetensors", directory / "vae" / "extra.safetensors"
    )

    with pytest.raises(WeightVerificationError, match=r"vae/extra.safetensors is not pinned"):
        await runner.submit(make_task(spec))


async def test_pickle_only_component_is_refused(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    directory, spec = _copy(tiny_models, tmp_path)
    unet = directory / "unet"
    (unet / "diffusion_pytorch_model.safetensors").rename(unet / "diffusion_pytorch_model.bin")
    weights = {k: v for k, v in spec.weights.items() if not k.startswith("unet/")}
    spec = msgspec.structs.replace(spec, weights=weights)

    with pytest.raises(UnsafeWeightsError, match=r"unet/diffusion_pytorch_model.bin: pickle weights"):
        await runner.submit(make_task(spec))


async def test_component_from_another_library_is_refused(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    directory, spec = _copy(tiny_models, tmp_path)
    index = json.loads((directory / "model_index.json").read_text())
    index["unet"] = ["my_package", "EvilUNet"]
    (directory / "model_index.json").write_text(json.dumps(index))

    with pytest.raises(UnsafeWeightsError, match=r"component 'unet' comes from library 'my_package'"):
        await runner.submit(make_task(spec))


async def test_adapter_with_wrong_hash_is_refused(
    runner: LocalDiffusersRunner, tiny_models: TinyModelSet
) -> None:
    model = tiny_models[ModelFamily.SD1]
    forged = msgspec.structs.replace(model.adapters[0], sha256="0" * 64)

    with pytest.raises(WeightVerificationError, match=r"adapter tiny-sd1-lora-0: .* expected 0{64}"):
        await runner.submit(make_task(model.pipeline, (forged,)))
