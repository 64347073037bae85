"""The jobs API's request and response bodies. Every field is bounded here or, where the bound
depends on the model, in `gateway.jobs.resolve`."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from registry.vocabulary import OutputUse, Purpose, UseCase

Scale = Annotated[float, msgspec.Meta(ge=-4.0, le=4.0)]
Side = Annotated[int, msgspec.Meta(ge=8, le=8192, multiple_of=8)]


class AdapterRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    scale: Scale = 1.0


class WebhookRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    url: Annotated[str, msgspec.Meta(min_length=1, max_length=2048)]
    events: Annotated[list[str], msgspec.Meta(max_length=8)] | None = None
    """Event types to receive (`job.queued`, `job.started`, terminal ones, `job.*`); none: terminal."""


class JobRequest(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """`POST /v1/jobs`. Unset parameters come from the artifacts' recommended settings."""

    model: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    prompt: Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
    adapters: Annotated[list[AdapterRequest], msgspec.Meta(max_length=4)] = []
    negative_prompt: Annotated[str, msgspec.Meta(max_length=4000)] = ""
    width: Side | None = None
    height: Side | None = None
    steps: Annotated[int, msgspec.Meta(ge=1, le=200)] | None = None
    guidance: Annotated[float, msgspec.Meta(ge=0.0, le=30.0)] | None = None
    seed: Annotated[int, msgspec.Meta(ge=0, le=2**53)] | None = None
    num_images: Annotated[int, msgspec.Meta(ge=1, le=8)] = 1
    purpose: Purpose | None = None
    """None: the tenant's default purpose (422 when it has none)."""
    output_use: OutputUse = OutputUse.INTERNAL
    use_cases: Annotated[list[UseCase], msgspec.Meta(max_length=16)] = []
    webhook: WebhookRequest | None = None
    deadline: dt.datetime | None = None
    """Abort the job if it has not started by then (timezone required)."""


class JobLinks(msgspec.Struct, kw_only=True, frozen=True):
    status: str
    events: str
    cancel: str
    result: str
    """Where the finished job (with its image URLs) is read: the status URL."""
    images: list[str]


class JobDecisionView(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    decision: str
    licenses: list[str]
    agreements: list[str]
    obligations: list[dict[str, Any]]


class JobView(msgspec.Struct, kw_only=True, frozen=True):
    id: str
    status: str
    model: str
    adapters: list[dict[str, Any]]
    runner: str
    purpose: str
    output_use: str
    parameters: dict[str, Any]
    decision: JobDecisionView
    num_images: int
    images: list[str]
    """URLs of the stored images (PNG), once the job succeeded."""
    cost_usd: float | None
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    deadline: dt.datetime | None
    links: JobLinks
    restarts: int = 0
    """Times the job was queued again because the gateway running it stopped (local runners)."""


class JobPage(msgspec.Struct, kw_only=True, frozen=True):
    items: list[JobView]
    next_cursor: str | None
