"""Runners in threads of one process: what is built while another thread loads a pipeline keeps
its weights (diffusers loads under accelerate's `init_empty_weights`, which puts the parameters of
any module built meanwhile, in any thread, on the meta device unless `runners.modules`' lock
keeps them apart)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.task import GenerationTask, ModelFamily
from runners.tiny import TinyModelSet, build_tiny_models
from tests.runners.support_runner_tasks import DEVICE, make_task

SD1 = ModelFamily.SD1


class LoadingAgain:
    """A runner's pipeline loaded again and again on a thread of its own, as a runner's worker
    loads one (its warm cache, emptied after each load)."""

    def __init__(self, task: GenerationTask) -> None:
        self.runner = LocalDiffusersRunner(LocalRunnerSettings(runner_id="loading", device=DEVICE))
        self.task = task
        self.loads = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._load, name="loading-again", daemon=True)

    def _load(self) -> None:
        while not self._stop.is_set():
            self.runner.cache.get(self.task)
            self.runner.cache.evict_all()
            self.loads += 1

    def __enter__(self) -> LoadingAgain:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


@pytest.fixture
def loading(tiny_models: TinyModelSet) -> Iterator[LoadingAgain]:
    with LoadingAgain(make_task(tiny_models[SD1].pipeline)) as running:
        yield running


def _meta_parameters(pipe: Any) -> list[str]:
    return [
        f"{name}.{parameter}"
        for name, component in pipe.components.items()
        if hasattr(component, "named_parameters")
        for parameter, value in component.named_parameters()
        if value.device.type == "meta"
    ]


def test_tiny_models_built_beside_a_loading_runner_have_their_weights(
    loading: LoadingAgain, tmp_path: Path
) -> None:
    built = build_tiny_models(tmp_path / "models", families=(SD1,), adapters_per_family=2)
    assert loading.loads > 0  # the other thread really loaded meanwhile
    assert len(built[SD1].adapters) == 2


async def test_a_runner_loads_adapters_beside_another_runners_pipeline_loads(
    loading: LoadingAgain, tiny_models: TinyModelSet
) -> None:
    model = tiny_models[SD1]
    runner = LocalDiffusersRunner(LocalRunnerSettings(runner_id="adapters", device=DEVICE, max_wait_s=0.0))
    try:
        loads_before = loading.loads
        for adapter in model.adapters:
            result = await runner.submit(make_task(model.pipeline, (adapter,), steps=2))
            assert len(result.images) == 1
        [warm] = runner.cache.warm()
        assert _meta_parameters(warm.pipe) == []
        assert warm.adapters.resident_ids()  # the adapters were injected and stay
        assert loading.loads > loads_before
    finally:
        await runner.close()
