"""A pipeline pinned to a Hugging Face commit resolves through huggingface_hub's cache (offline
here: the snapshot is laid out in a cache directory the way the hub client stores it)."""

from __future__ import annotations

import shutil
from pathlib import Path

import msgspec
import pytest

from runners.errors import WeightVerificationError
from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.task import AdapterSpec, HubSource, ModelFamily
from runners.tiny import TinyModelSet
from tests.runners.support_runner_tasks import DEVICE, make_task

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _snapshot(cache: Path, repo: str, source: Path) -> None:
    folder = cache / f"models--{repo.replace('/', '--')}"
    shutil.copytree(source, folder / "snapshots" / COMMIT)
    (folder / "refs").mkdir()
    (folder / "refs" / "main").write_text(COMMIT)


async def test_pipeline_and_adapter_from_a_pinned_hub_revision(
    tiny_models: TinyModelSet, tmp_path: Path
) -> None:
    model = tiny_models[ModelFamily.FLUX1]
    cache = tmp_path / "hub"
    _snapshot(cache, "demo/tiny-flux1", model.path)
    adapter = model.adapters[0]
    _snapshot(cache, "demo/tiny-flux1-lora", Path(adapter.source.path))  # type: ignore[union-attr]
    pipeline = msgspec.structs.replace(
        model.pipeline, source=HubSource(repo="demo/tiny-flux1", revision=COMMIT)
    )
    hub_adapter: AdapterSpec = msgspec.structs.replace(
        adapter, source=HubSource(repo="demo/tiny-flux1-lora", revision=COMMIT)
    )
    runner = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_wait_s=0.0, hub_cache_dir=cache))
    try:
        result = await runner.submit(make_task(pipeline, (hub_adapter,)))
        assert len(result.images) == 1

        tampered = cache / "models--demo--tiny-flux1" / "snapshots" / COMMIT / "vae"
        (tampered / "diffusion_pytorch_model.safetensors").write_bytes(b"changed")
        runner.cache.evict_all()
        with pytest.raises(
            WeightVerificationError, match=r"vae/diffusion_pytorch_model\.safetensors has sha256"
        ):
            await runner.submit(make_task(pipeline))
    finally:
        await runner.close()
