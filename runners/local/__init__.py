"""In-process diffusers runner: verified safetensors pipelines, warm LRU cache, resident LoRA
adapters with hot-swap, and a batching, adapter-aware queue in front of one worker per device."""

from runners.local.runner import LocalDiffusersRunner, LocalRunnerSettings

__all__ = ["LocalDiffusersRunner", "LocalRunnerSettings"]
