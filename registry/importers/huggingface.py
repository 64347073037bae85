"""`import hf REPO_ID[@REVISION]`: a catalog entry from a Hugging Face repository.

Reads the repo from the Hub (or a Hub-compatible `endpoint`) or from a local snapshot directory,
pins the commit and the sha256 of every safetensors file, refuses pickle-only weights, and
resolves the license: the declared one through the alias table, never wider than a base whose
terms bind derivatives. Bases must already be in the catalog (an unknown base is an error, so an
adapter is never catalogued with a license chain that silently stops short).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from registry.catalog.entries import Catalog, InferenceSettings
from registry.importers import flags
from registry.importers.aliases import LicenseAliasTable
from registry.importers.bases import BaseIndex
from registry.importers.errors import ImporterError, MissingFileError, PickleOnlyError, UnknownBaseError
from registry.importers.hub import read_hub_repo
from registry.importers.inheritance import license_chain, resolve_own_license
from registry.importers.model_card import CardFacts, ParsedCard, card_facts, parse_model_card
from registry.importers.result import ImportResult, keep_curated_fields, validated_artifact
from registry.importers.snapshot import RepoSnapshot, read_local_snapshot
from registry.vocabulary import ArtifactKind, BaseRelation

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_LORA_FILE = re.compile(r"(?i)(lora|adapter_model|pytorch_lora_weights)[^/]*\.safetensors$")

PIPELINE_FAMILIES = {
    "Flux2Pipeline": "flux2",
    "FluxPipeline": "flux1",
    "FluxKontextPipeline": "flux1-kontext",
    "StableDiffusion3Pipeline": "sd3",
    "StableDiffusionXLPipeline": "sdxl",
    "StableDiffusionPipeline": "sd1",
    "QwenImagePipeline": "qwen-image",
    "HiDreamImagePipeline": "hidream",
    "HunyuanImagePipeline": "hunyuanimage",
    "SanaPipeline": "sana",
}
"""diffusers pipeline class (model_index.json `_class_name`) -> runner family."""


def parse_repo_ref(text: str) -> tuple[str, str | None]:
    """`owner/name[@revision]` -> (repo id, revision or None)."""
    repo_id, _, revision = text.strip().partition("@")
    if not _REPO_ID.match(repo_id):
        raise ImporterError(f"{text!r}: not a Hugging Face repo id of the form owner/name[@revision]")
    if _ and not revision:
        raise ImporterError(f"{text!r}: empty revision after '@'")
    return repo_id, revision or None


def _safetensors_names(snapshot: RepoSnapshot) -> list[str]:
    names = [f.name for f in snapshot.files if f.name.endswith(".safetensors")]
    if names:
        return names
    pickles = [f.name for f in snapshot.files if f.name.lower().endswith(PICKLE_SUFFIXES)]
    where = f"{snapshot.repo_id}@{snapshot.revision}"
    if pickles:
        raise PickleOnlyError(
            f"{where}: weights only in pickle formats ({', '.join(pickles[:5])}); "
            "Clearance loads safetensors only"
        )
    raise MissingFileError(f"{where}: no .safetensors weights in the repository")


def _card(snapshot: RepoSnapshot) -> ParsedCard:
    source = f"{snapshot.repo_id}@{snapshot.revision}: README.md"
    if snapshot.card_text is not None:
        return parse_model_card(snapshot.card_text, source=source)
    return ParsedCard(metadata=dict(snapshot.card_metadata or {}), body="")


def _adapter_evidence(facts: CardFacts, snapshot: RepoSnapshot, safetensors: list[str]) -> str | None:
    """Why the repository looks like an adapter (LoRA tags, adapter file names), or None."""
    lowered = {t.lower() for t in facts.tags}
    tags = sorted(lowered & {"lora", "peft", "template:sd-lora"})
    if tags:
        return f"tags {', '.join(tags)}"
    files = [n for n in safetensors if _LORA_FILE.search(n)]
    if files:
        return f"file {files[0]}"
    if "adapter_config.json" in snapshot.file_names():
        return "file adapter_config.json"
    return None


def _relation(facts: CardFacts, bases: tuple[str, ...], adapter_evidence: str | None) -> BaseRelation | None:
    if not bases:
        return None
    if facts.base_relation is not None:
        return facts.base_relation
    if adapter_evidence is not None:
        return BaseRelation.ADAPTER
    if "merge" in {t.lower() for t in facts.tags}:
        return BaseRelation.MERGE
    return BaseRelation.FINETUNE


def _recommended(
    facts: CardFacts, relation: BaseRelation | None, safetensors: list[str]
) -> InferenceSettings | None:
    settings: dict[str, Any] = msgspec.to_builtins(facts.recommended) if facts.recommended else {}
    weight_name = settings.get("weight_name")
    if weight_name is not None and weight_name not in safetensors:
        settings.pop("weight_name")
    if relation is BaseRelation.ADAPTER and "weight_name" not in settings and len(safetensors) == 1:
        settings["weight_name"] = safetensors[0]
    return msgspec.convert(settings, InferenceSettings) if settings else None


def _family(snapshot: RepoSnapshot, bases: tuple[str, ...], index: BaseIndex) -> str | None:
    if snapshot.model_index is not None:
        family = PIPELINE_FAMILIES.get(str(snapshot.model_index.get("_class_name", "")))
        if family is not None:
            return family
    for base in bases:
        family = index.artifacts[base].family
        if family is not None:
            return family
    return None


def artifact_from_snapshot(
    snapshot: RepoSnapshot, catalog: Catalog, *, bases: Sequence[str] = ()
) -> ImportResult:
    """The catalog entry for a repository already read (online or offline). `bases`, when given,
    replace the card's `base_model` (for cards that omit or misstate it), flagged."""
    where = f"{snapshot.repo_id}@{snapshot.revision}"
    safetensors = _safetensors_names(snapshot)
    facts = card_facts(_card(snapshot), source=f"{where}: README.md", hub_tags=snapshot.tags)
    index = BaseIndex(catalog.artifacts)
    resolved = index.resolve_all(bases or facts.base_models, where=where)
    extra_flags = [flags.BASES_GIVEN_BY_OPERATOR] if bases else []
    if snapshot.repo_id.lower() in {b.lower() for b in resolved}:
        raise ImporterError(f"{where}: the repository names itself as its own base model")
    evidence = _adapter_evidence(facts, snapshot, safetensors)
    if not resolved and evidence is not None:
        raise UnknownBaseError(
            f"{where}: looks like an adapter ({evidence}) but declares no base_model, so its "
            "effective license cannot be resolved; give the base explicitly (--base ID)"
        )
    relation = _relation(facts, resolved, evidence)
    aliases = LicenseAliasTable.from_catalog(catalog)
    resolution = aliases.resolve(facts.declared)
    licenses = {doc.ref: doc for doc in catalog.licenses}
    own = resolve_own_license(
        resolution, bases=resolved, relation=relation, artifacts=index.artifacts, licenses=licenses
    )
    recommended = _recommended(facts, relation, safetensors)
    fields: dict[str, Any] = {
        "id": snapshot.repo_id,
        "kind": ArtifactKind.ADAPTER if relation is BaseRelation.ADAPTER else ArtifactKind.BASE_MODEL,
        "name": snapshot.repo_id.split("/")[-1],
        "license": own.license,
        "family": _family(snapshot, resolved, index),
        "source": {
            "type": "huggingface",
            "repo_id": snapshot.repo_id,
            "revision": snapshot.revision,
            "files": [
                {"name": f.name, "sha256": f.sha256} for f in snapshot.files if f.name in set(safetensors)
            ],
        },
        "bases": list(resolved),
        "base_relation": relation,
        "declared_license": resolution.declared,
        "license_flags": [*own.flags, *extra_flags],
        "recommended": msgspec.to_builtins(recommended) if recommended else None,
        "gated": snapshot.gated or facts.gated,
    }
    fresh = {k: v for k, v in fields.items() if v not in (None, [])}
    artifact = validated_artifact(
        keep_curated_fields(fresh, index.artifacts.get(snapshot.repo_id)), where=where
    )
    known = {**index.artifacts, artifact.id: artifact}
    return ImportResult(
        artifact=artifact, origin=snapshot.origin, license_chain=license_chain(artifact, known)
    )


def import_hf(
    repo: str,
    catalog: Catalog,
    *,
    endpoint: str | None = None,
    local_dir: Path | None = None,
    token: str | bool | None = None,
    bases: Sequence[str] = (),
) -> ImportResult:
    """Import `owner/name[@revision]`: from `local_dir` when given (offline), else from the Hub at
    `endpoint` (default huggingface.co); `bases` override the card's `base_model`. Raises an
    `ImporterError` naming what is wrong."""
    repo_id, revision = parse_repo_ref(repo)
    if local_dir is not None:
        snapshot = read_local_snapshot(local_dir, repo_id, revision)
    else:
        snapshot = read_hub_repo(repo_id, revision, endpoint=endpoint, token=token)
    return artifact_from_snapshot(snapshot, catalog, bases=bases)
