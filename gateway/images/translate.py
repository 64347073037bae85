"""From an OpenAI Images request plus Clearance's declaration headers to a `JobRequest`.

The OpenAI API has no notion of purpose or output use, so clients declare them in headers
(`Clearance-Purpose`, `Clearance-Output-Use`, `Clearance-Use-Cases`, comma-separated) or in the
body's extension fields; without either, the tenant's default purpose applies. A header and a
body field that disagree are refused rather than one silently winning.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import msgspec

from gateway.images.errors import DeclarationHeaderError
from gateway.images.schemas import ImagesRequest
from gateway.jobs.errors import JobValidationError
from gateway.jobs.schemas import JobRequest
from registry.vocabulary import OutputUse, Purpose, UseCase

PURPOSE_HEADER = "Clearance-Purpose"
OUTPUT_USE_HEADER = "Clearance-Output-Use"
USE_CASES_HEADER = "Clearance-Use-Cases"

_SIZE = re.compile(r"^(\d{1,5})x(\d{1,5})$")
_PATH = re.compile(r"at `\$\.(?P<field>\w+)")
_FIELD_NAMES = {"width": "size", "height": "size", "num_images": "n"}
"""Job fields as the OpenAI request names them, so errors point at what the client sent."""

E = TypeVar("E", bound=Enum)


@dataclass(frozen=True)
class Declaration:
    """What the caller declares about its use, read from the `Clearance-*` headers."""

    purpose: Purpose | None = None
    output_use: OutputUse | None = None
    use_cases: tuple[UseCase, ...] | None = None


def read_declaration(headers: Mapping[str, str]) -> Declaration:
    purpose = headers.get(PURPOSE_HEADER.lower())
    output_use = headers.get(OUTPUT_USE_HEADER.lower())
    use_cases = headers.get(USE_CASES_HEADER.lower())
    return Declaration(
        purpose=_member(Purpose, PURPOSE_HEADER, purpose) if purpose else None,
        output_use=_member(OutputUse, OUTPUT_USE_HEADER, output_use) if output_use else None,
        use_cases=(
            tuple(_member(UseCase, USE_CASES_HEADER, v) for v in use_cases.split(",") if v.strip())
            if use_cases is not None
            else None
        ),
    )


def _member(enum: type[E], header: str, value: str) -> E:
    text = value.strip()
    try:
        return enum(text)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum)
        raise DeclarationHeaderError(header, f"{text!r} is not one of: {allowed}") from None


def parse_size(size: str) -> tuple[int | None, int | None]:
    if size == "auto":
        return None, None
    match = _SIZE.match(size)
    if match is None:
        raise JobValidationError("size", f"{size!r} is not WIDTHxHEIGHT (e.g. 1024x1024) or auto")
    return int(match.group(1)), int(match.group(2))


def _agree(name: str, header: str, from_header: object, from_body: object) -> object:
    if from_header is not None and from_body is not None and from_header != from_body:
        raise DeclarationHeaderError(header, f"disagrees with the body's {name}")
    return from_header if from_header is not None else from_body


def to_job_request(request: ImagesRequest, declared: Declaration) -> JobRequest:
    width, height = parse_size(request.size)
    purpose = _agree("purpose", PURPOSE_HEADER, declared.purpose, request.purpose)
    output_use = _agree("output_use", OUTPUT_USE_HEADER, declared.output_use, request.output_use)
    body_cases = tuple(request.use_cases) if request.use_cases is not None else None
    use_cases = _agree("use_cases", USE_CASES_HEADER, declared.use_cases, body_cases)
    fields: dict[str, object] = {
        "model": request.model,
        "prompt": request.prompt,
        "adapters": msgspec.to_builtins(request.adapters),
        "negative_prompt": request.negative_prompt,
        "width": width,
        "height": height,
        "steps": request.steps,
        "guidance": request.guidance,
        "seed": request.seed,
        "num_images": request.n,
        "purpose": purpose,
        "output_use": output_use if output_use is not None else OutputUse.INTERNAL,
        "use_cases": list(use_cases) if isinstance(use_cases, tuple) else [],
    }
    try:
        return msgspec.convert(fields, JobRequest)
    except msgspec.ValidationError as exc:
        match = _PATH.search(str(exc))
        field = match.group("field") if match else "body"
        raise JobValidationError(_FIELD_NAMES.get(field, field), str(exc).split(" - at ")[0]) from None
