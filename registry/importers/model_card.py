"""Reading a Hugging Face model card: its YAML front matter and what its text reveals.

The front matter is parsed with `huggingface_hub.ModelCard` (the Hub's own parser) and checked
field by field, because a card is free-form and a wrong type must be an error that names the
field, not a crash later. Recommended inference settings are read from the card's `inference`
block or widget parameters first, then from the usage code in its text (`num_inference_steps=8`,
`guidance_scale=2.5`, `TURBO_SIGMAS = [...]`, `weight_name="..."`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
import yaml
from huggingface_hub import ModelCard

from registry.catalog.entries import InferenceSettings
from registry.importers.declared import DeclaredLicense
from registry.importers.errors import ModelCardError
from registry.vocabulary import BaseRelation


class ParsedCard(msgspec.Struct, frozen=True, kw_only=True):
    metadata: dict[str, Any]
    body: str


class CardFacts(msgspec.Struct, frozen=True, kw_only=True):
    declared: DeclaredLicense
    base_models: tuple[str, ...] = ()
    base_relation: BaseRelation | None = None
    recommended: InferenceSettings | None = None
    gated: str | None = None
    tags: tuple[str, ...] = ()


def parse_model_card(text: str, *, source: str) -> ParsedCard:
    """Front matter and body of a README.md; `source` names the file in errors."""
    try:
        card = ModelCard(text, ignore_metadata_errors=False)
    except yaml.YAMLError as exc:
        raise ModelCardError(f"{source}: malformed YAML front matter: {exc}") from exc
    except (ValueError, TypeError) as exc:
        raise ModelCardError(f"{source}: invalid front matter: {exc}") from exc
    except RecursionError as exc:
        raise ModelCardError(f"{source}: front matter nests too deeply") from exc
    metadata: dict[str, Any] = card.data.to_dict()  # type: ignore[no-untyped-call]
    return ParsedCard(metadata=metadata, body=card.text)


def _optional_str(metadata: Mapping[str, Any], field: str, source: str) -> str | None:
    value = metadata.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ModelCardError(f"{source}: field {field!r} must be a string, got {type(value).__name__}")
    return str(value).strip() or None


def _string_list(metadata: Mapping[str, Any], field: str, source: str) -> tuple[str, ...]:
    value = metadata.get(field)
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
        raise ModelCardError(f"{source}: field {field!r} must be a string or a list of strings")
    return tuple(dict.fromkeys(item.strip() for item in items if item.strip()))


def _tag_license(tags: Sequence[str]) -> str | None:
    for tag in tags:
        if tag.startswith("license:"):
            return tag.removeprefix("license:")
    return None


def _tag_bases(tags: Sequence[str]) -> tuple[tuple[str, ...], BaseRelation | None]:
    """The Hub computes `base_model:<id>` and `base_model:<relation>:<id>` tags."""
    bases: list[str] = []
    relation: BaseRelation | None = None
    for tag in tags:
        if not tag.startswith("base_model:"):
            continue
        rest = tag.removeprefix("base_model:")
        head, _, tail = rest.partition(":")
        if tail and head in {r.value for r in BaseRelation}:
            relation = relation or BaseRelation(head)
            rest = tail
        if rest not in bases:
            bases.append(rest)
    return tuple(bases), relation


def _gated(metadata: Mapping[str, Any]) -> str | None:
    value = metadata.get("gated")
    if isinstance(value, str) and value:
        return value
    if value is True or any(str(key).startswith("extra_gated_") for key in metadata):
        return "gated"
    return None


_STEPS = re.compile(r"\bnum_inference_steps\s*[=:]\s*(\d+)")
_GUIDANCE = re.compile(r"\bguidance_scale\s*[=:]\s*([0-9]+(?:\.[0-9]+)?)")
_WIDTH = re.compile(r"\bwidth\s*[=:]\s*(\d{2,5})\b")
_HEIGHT = re.compile(r"\bheight\s*[=:]\s*(\d{2,5})\b")
_WEIGHT_NAME = re.compile(r"\bweight_name\s*=\s*[\"']([^\"']+)[\"']")
_SIGMAS = re.compile(r"(?i)\b\w*sigmas\w*\s*=\s*\[([0-9eE.,+\-\s]+)\]")


def _first_number(pattern: re.Pattern[str], text: str) -> str | None:
    match = pattern.search(text)
    return match.group(1) if match else None


def _parameters_from_metadata(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """`inference: {parameters: {...}}`, else the first widget entry's `parameters`."""
    inference = metadata.get("inference")
    if isinstance(inference, dict) and isinstance(inference.get("parameters"), dict):
        return dict(inference["parameters"])
    widget = metadata.get("widget")
    if isinstance(widget, list):
        for entry in widget:
            if isinstance(entry, dict) and isinstance(entry.get("parameters"), dict):
                return dict(entry["parameters"])
    return {}


def recommended_settings(metadata: Mapping[str, Any], body: str, *, source: str) -> dict[str, Any]:
    """Settings the card states, as `InferenceSettings` fields (weight_name is checked by the caller)."""
    params = _parameters_from_metadata(metadata)
    found: dict[str, Any] = {}
    steps = params.get("num_inference_steps", _first_number(_STEPS, body))
    guidance = params.get("guidance_scale", _first_number(_GUIDANCE, body))
    width = params.get("width", _first_number(_WIDTH, body))
    height = params.get("height", _first_number(_HEIGHT, body))
    try:
        if steps is not None:
            found["steps"] = int(steps)
        if guidance is not None:
            found["guidance"] = float(guidance)
        if width is not None:
            found["width"] = int(width)
        if height is not None:
            found["height"] = int(height)
    except (TypeError, ValueError) as exc:
        raise ModelCardError(f"{source}: inference parameters are not numbers: {exc}") from exc
    sigmas = _SIGMAS.search(body)
    if sigmas:
        values = [part.strip() for part in sigmas.group(1).split(",") if part.strip()]
        with contextlib.suppress(ValueError):  # an expression, not a literal list: skip it
            found["sigmas"] = tuple(float(v) for v in values)
    weight_name = _WEIGHT_NAME.search(body)
    if weight_name:
        found["weight_name"] = weight_name.group(1)
    return found


def card_facts(parsed: ParsedCard, *, source: str, hub_tags: Sequence[str] = ()) -> CardFacts:
    """The license, bases, relation, settings and gating a card declares."""
    metadata = parsed.metadata
    card_tags = _string_list(metadata, "tags", source)
    tags = tuple(dict.fromkeys((*card_tags, *hub_tags)))
    declared = DeclaredLicense(
        license=_optional_str(metadata, "license", source),
        license_name=_optional_str(metadata, "license_name", source),
        license_link=_optional_str(metadata, "license_link", source),
        tag_license=_tag_license(tags),
    )
    bases = _string_list(metadata, "base_model", source)
    tag_bases, tag_relation = _tag_bases(tags)
    if not bases:
        bases = tag_bases
    relation_text = _optional_str(metadata, "base_model_relation", source)
    relation: BaseRelation | None
    if relation_text is not None:
        try:
            relation = BaseRelation(relation_text.lower())
        except ValueError:
            allowed = ", ".join(r.value for r in BaseRelation)
            raise ModelCardError(
                f"{source}: base_model_relation {relation_text!r} is not one of {allowed}"
            ) from None
    else:
        relation = tag_relation
    settings = recommended_settings(metadata, parsed.body, source=source)
    recommended = None
    if settings:
        try:
            recommended = msgspec.convert(settings, InferenceSettings)
        except msgspec.ValidationError as exc:
            raise ModelCardError(f"{source}: recommended inference settings out of range: {exc}") from exc
    return CardFacts(
        declared=declared,
        base_models=bases,
        base_relation=relation,
        recommended=recommended,
        gated=_gated(metadata),
        tags=tags,
    )
