"""Tiny real pipelines for the runner tests, built once per session into a temporary directory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import torch

from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.tiny import TinyModelSet, build_tiny_models
from tests.runners.support_runner_tasks import DEVICE

os.environ.setdefault("HF_HUB_OFFLINE", "1")
torch.set_num_threads(1)  # robust on a shared 2-core host; see bench/runners


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> TinyModelSet:
    return build_tiny_models(tmp_path_factory.mktemp("tiny-models"))


@pytest.fixture
def tiny_root(tiny_models: TinyModelSet) -> Path:
    return tiny_models.root


@pytest.fixture
async def runner() -> AsyncIterator[LocalDiffusersRunner]:
    local = LocalDiffusersRunner(LocalRunnerSettings(runner_id="test", device=DEVICE, max_wait_s=0.0))
    yield local
    await local.close()
