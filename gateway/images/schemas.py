"""The OpenAI Images API's request and response bodies, as far as Clearance honours them.

Fields OpenAI defines but that have no meaning here (`quality`, `style`, `moderation`) are validated against
OpenAI's values and otherwise ignored; a field OpenAI does not define is refused (422) unless it
is one of Clearance's own extensions (sent with the client's `extra_body`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from gateway.jobs.schemas import AdapterRequest
from registry.vocabulary import OutputUse, Purpose, UseCase

ResponseFormat = Literal["b64_json", "url"]
Quality = Literal["auto", "standard", "hd", "low", "medium", "high", "xhigh", "max"]
Style = Literal["vivid", "natural"]


class ImagesRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/images/generations`. `model` is a catalog model id (e.g. `tiny/flux2-dev`)."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    n: Annotated[int, msgspec.Meta(ge=1, le=8)] = 1
    size: Annotated[str, msgspec.Meta(max_length=16)] = "auto"
    """`WIDTHxHEIGHT` or `auto` (the model's recommended size)."""
    response_format: ResponseFormat = "b64_json"
    """`b64_json` by default: image URLs need the same bearer token to be read."""
    quality: Quality | None = None
    style: Style | None = None
    output_format: Literal["png"] | None = None
    """Images are PNG (with their provenance); another format is refused, not converted."""
    moderation: Literal["auto", "low"] | None = None
    """Accepted and ignored: the licenses' content-filter obligations are the tenant's."""
    user: Annotated[str, msgspec.Meta(max_length=256)] | None = None
    """Recorded nowhere but accepted: the tenant and client come from the token."""
    # Clearance extensions (openai client: `extra_body={...}`).
    adapters: Annotated[list[AdapterRequest], msgspec.Meta(max_length=4)] = []
    negative_prompt: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    steps: Annotated[int, msgspec.Meta(ge=1, le=200)] | None = None
    guidance: Annotated[float, msgspec.Meta(ge=0.0, le=30.0)] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**53)] | None = None
    purpose: Purpose | None = None
    output_use: OutputUse | None = None
    use_cases: Annotated[list[UseCase], msgspec.Meta(max_length=16)] | None = None


class ImageData(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    b64_json: str | None = None
    url: str | None = None
    revised_prompt: str | None = None


class ImagesResponse(msgspec.Struct, kw_only=True, frozen=True):
    created: int
    data: list[ImageData]
    job_id: str
    """Clearance's job behind the response (its decision, provenance and audit trail)."""
    decision_id: str
