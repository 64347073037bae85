"""Where a pipeline's or adapter's bytes come from: a local directory, or a Hugging Face repository
pinned to a commit and fetched with safetensors weights only."""

from __future__ import annotations

from pathlib import Path

from runners.errors import TaskValidationError, WeightVerificationError
from runners.task import AdapterSpec, HubSource, LocalSource, PipelineSpec

# Weights only as safetensors; configs, tokenizers and chat templates are data, not code.
HUB_ALLOW_PATTERNS = (
    "*.safetensors",
    "*.json",
    "*.txt",
    "*.model",
    "*.jinja",
    "*.tiktoken",
)


def pipeline_directory(spec: PipelineSpec, cache_dir: Path | None) -> Path:
    source = spec.source
    if isinstance(source, LocalSource):
        path = Path(source.path)
        if not path.is_dir():
            raise WeightVerificationError(f"pipeline {spec.artifact_id}: directory {path} does not exist")
        return path
    if isinstance(source, HubSource):
        from huggingface_hub import snapshot_download

        return Path(
            snapshot_download(
                repo_id=source.repo,
                revision=source.revision,
                allow_patterns=list(HUB_ALLOW_PATTERNS),
                cache_dir=cache_dir,
            )
        )
    raise TaskValidationError(
        f"pipeline {spec.artifact_id}: a {type(source).__name__} is not a local pipeline"
    )


def adapter_file(spec: AdapterSpec, cache_dir: Path | None) -> Path:
    source = spec.source
    if isinstance(source, LocalSource):
        return Path(source.path) / spec.weight_name
    from huggingface_hub import hf_hub_download

    return Path(
        hf_hub_download(
            repo_id=source.repo, filename=spec.weight_name, revision=source.revision, cache_dir=cache_dir
        )
    )
