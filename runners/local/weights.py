"""Pinning weights: nothing is deserialised until its bytes match the sha256 the gateway pinned.

Pickle formats can run code when loaded, so a directory that offers weights only as pickle is
refused outright, and every `*.safetensors` file must be pinned (an unpinned file could be
swapped in next to pinned ones and loaded by `from_pretrained`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

from runners.errors import UnsafeWeightsError, WeightVerificationError

PICKLE_SUFFIXES = frozenset({".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle"})
ALLOWED_LIBRARIES = frozenset({"diffusers", "transformers"})


def file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def refuse_pickle_only(directory: Path) -> None:
    """Refuse a pipeline directory where some component has pickle weights and no safetensors."""
    pickles = [p for p in directory.rglob("*") if p.is_file() and p.suffix in PICKLE_SUFFIXES]
    for pickle in pickles:
        folder = pickle.parent
        if not any(folder.glob("*.safetensors")):
            raise UnsafeWeightsError(
                f"{pickle.relative_to(directory)}: pickle weights without a safetensors file next to "
                "them; only safetensors are ever loaded"
            )


def refuse_custom_code(directory: Path) -> None:
    """`model_index.json` names the classes to import: only diffusers and transformers are allowed,
    so weights can never bring their own code."""
    index = directory / "model_index.json"
    if not index.is_file():
        raise WeightVerificationError(f"{directory}: no model_index.json; not a diffusers pipeline")
    try:
        entries = json.loads(index.read_text())
    except json.JSONDecodeError as exc:
        raise WeightVerificationError(f"{index}: not valid JSON ({exc})") from exc
    for name, value in entries.items():
        if name.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        library = value[0]
        if library is not None and library not in ALLOWED_LIBRARIES:
            raise UnsafeWeightsError(
                f"{index}: component {name!r} comes from library {library!r}; only "
                f"{sorted(ALLOWED_LIBRARIES)} are loaded"
            )
    if any(directory.rglob("*.py")):
        first = next(directory.rglob("*.py"))
        raise UnsafeWeightsError(f"{first.relative_to(directory)}: code files are never loaded with weights")


def verify_pipeline_dir(directory: Path, expected: Mapping[str, str]) -> None:
    """Check every pinned file exists with its sha256 and no unpinned safetensors file exists."""
    refuse_pickle_only(directory)
    refuse_custom_code(directory)
    present = {p.relative_to(directory).as_posix() for p in directory.rglob("*.safetensors")}
    if not expected:
        raise WeightVerificationError(
            f"{directory}: no weight hashes pinned; refusing to load unpinned weights"
        )
    unpinned = sorted(present - expected.keys())
    if unpinned:
        raise WeightVerificationError(f"{directory}: weight file {unpinned[0]} is not pinned by a sha256")
    for relative, sha256 in sorted(expected.items()):
        path = directory / relative
        if not path.is_file():
            raise WeightVerificationError(f"{directory}: pinned weight file {relative} is missing")
        actual = file_sha256(path)
        if actual != sha256:
            raise WeightVerificationError(f"{directory}: {relative} has sha256 {actual}, expected {sha256}")


def read_verified(path: Path, sha256: str, owner: str) -> bytes:
    """The file's bytes, once they match `sha256`: what is deserialised is what was hashed, read
    once (a file replaced between a hash and a second read would otherwise get through)."""
    if path.suffix in PICKLE_SUFFIXES:
        raise UnsafeWeightsError(f"{owner}: {path.name} is a pickle format; only safetensors are loaded")
    if not path.is_file():
        raise WeightVerificationError(f"{owner}: weight file {path} is missing")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise WeightVerificationError(f"{owner}: {path.name} has sha256 {actual}, expected {sha256}")
    return data
