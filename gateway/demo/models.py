"""The demo's tiny model files: built once into the data directory, reused while their bytes
still match the manifest (the runner checks the same sha256 pins before loading)."""

from __future__ import annotations

from pathlib import Path

from runners.task import LocalSource, ModelFamily
from runners.tiny import (
    MANIFEST_NAME,
    TinyModelSet,
    build_tiny_models,
    file_sha256,
    read_manifest,
    weight_hashes,
    write_manifest,
)

FAMILIES = (ModelFamily.FLUX2, ModelFamily.SD1)


def ensure_tiny_models(directory: Path) -> tuple[TinyModelSet, bool]:
    """The models under `directory`, and whether they had to be built now."""
    if (directory / MANIFEST_NAME).exists():
        try:
            models = read_manifest(directory)
        except (OSError, ValueError):
            models = None
        if models is not None and _intact(models):
            return models, False
    models = build_tiny_models(directory, families=FAMILIES, adapters_per_family=1)
    write_manifest(models)
    return models, True


def _intact(models: TinyModelSet) -> bool:
    if any(family not in models.models for family in FAMILIES):
        return False
    for model in models.models.values():
        if not model.adapters or weight_hashes(model.path) != model.pipeline.weights:
            return False
        for adapter in model.adapters:
            if not isinstance(adapter.source, LocalSource):
                return False
            path = Path(adapter.source.path) / adapter.weight_name
            if not path.exists() or file_sha256(path) != adapter.sha256:
                return False
    return True
