"""Tracing an image file back to the job, decision and licenses it was generated under, proven
by the audit log (`clearance audit image`, `POST /admin/audit/images`).

The PNG names its job in its provenance chunk, but a chunk can be written by anyone; what proves
the file is the job's `job.outcome` event, which records the SHA-256 of every image delivered
(as stored and served), in a hash chain that is verified first.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any, Literal

import msgspec
from msgspec.structs import replace
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.storage.provenance import Provenance, ProvenanceError, read_provenance
from registry.audit import AppendedEvent, EventKind, EventQuery, query_events, verify_chain
from registry.audit.signing import CheckpointVerifier

_OBJECT_REPR = re.compile(r" ?<[^<>]* object at 0x[0-9a-f]+>")

Verdict = Literal["proven", "not_proven", "tampered", "unverifiable"]


class ImageTraceError(ValueError):
    """The file cannot be traced at all: not a PNG, or no Clearance provenance in it."""


class ImageTrace(msgspec.Struct, kw_only=True, frozen=True):
    verdict: Verdict
    """`proven`: the chain verifies and the job's outcome records this file's bytes;
    `not_proven`: it does not (altered after delivery, or another job's); `tampered`: the chain
    does not verify; `unverifiable`: the outcome records no digests (recorded before they were
    kept) or the job delivered no image."""
    reason: str
    sha256: str
    job_id: str
    index: int | None = None
    """Position of the image among the job's (0-based), when proven."""
    tenant: str | None = None
    status: str | None = None
    runner: str | None = None
    purpose: str | None = None
    output_use: str | None = None
    artifacts: list[str] = msgspec.field(default_factory=list)
    licenses: list[str] = msgspec.field(default_factory=list)
    agreements: list[str] = msgspec.field(default_factory=list)
    decision_id: str | None = None
    decision_seq: int | None = None
    outcome_seq: int | None = None
    recorded_at: dt.datetime | None = None
    events_verified: int = 0
    chain_head: str | None = None


def _provenance_of(data: bytes) -> Provenance:
    try:
        return read_provenance(data)
    except ProvenanceError as exc:
        raise ImageTraceError(f"no Clearance provenance to trace: {exc}") from exc
    except Exception as exc:  # Pillow's errors for bytes that are not an image
        said = _OBJECT_REPR.sub("", str(exc))  # Pillow names the buffer: `<_io.BytesIO object at 0x...>`
        raise ImageTraceError(f"not a PNG image ({type(exc).__name__}: {said})") from exc


async def trace_image(engine: AsyncEngine, data: bytes, verifier: CheckpointVerifier | None) -> ImageTrace:
    """Verify the chain, find the job the file names, and check its outcome records the file."""
    provenance = _provenance_of(data)
    digest = hashlib.sha256(data).hexdigest()
    report = await verify_chain(engine, verifier=verifier, checkpoint=None)
    trace = ImageTrace(
        verdict="unverifiable",
        reason="",
        sha256=digest,
        job_id=provenance.job_id,
        events_verified=report.events_checked,
        chain_head=report.head_chain_hash,
    )
    if not report.ok:
        reason = f"the audit log is tampered at sequence {report.first_bad_seq}: {report.problem}"
        return replace(trace, verdict="tampered", reason=reason)
    outcome_event, decision_event = await _events(engine, provenance.job_id)
    if outcome_event is None:
        reason = f"the audit log holds no outcome of job {provenance.job_id}, which the file names"
        return replace(trace, verdict="not_proven", reason=reason)
    outcome: dict[str, Any] = outcome_event.payload_value()
    trace = replace(
        trace,
        tenant=outcome_event.tenant,
        status=outcome.get("status"),
        runner=outcome.get("runner"),
        purpose=outcome.get("purpose"),
        output_use=outcome.get("output_use"),
        artifacts=list(outcome.get("artifacts", [])),
        licenses=list(outcome.get("licenses", [])),
        agreements=list(outcome.get("agreements", [])),
        decision_id=outcome_event.decision_id,
        decision_seq=decision_event.seq if decision_event is not None else None,
        outcome_seq=outcome_event.seq,
        recorded_at=outcome_event.recorded_at,
    )
    digests: list[str] = list(outcome.get("image_sha256") or [])
    if not digests:
        reason = (
            f"the outcome of job {provenance.job_id} records no image digests: it was recorded "
            "before Clearance kept them, or the job delivered no image"
        )
        return replace(trace, verdict="unverifiable", reason=reason)
    if digest not in digests:
        reason = (
            f"the file is none of the {len(digests)} image(s) job {provenance.job_id} delivered: it "
            "was altered after delivery, or its provenance names another job"
        )
        return replace(trace, verdict="not_proven", reason=reason)
    index = digests.index(digest)
    reason = f"image {index} of job {provenance.job_id}, as its outcome event recorded it"
    return replace(trace, verdict="proven", reason=reason, index=index)


async def _events(engine: AsyncEngine, job_id: str) -> tuple[AppendedEvent | None, AppendedEvent | None]:
    async with engine.connect() as connection:
        outcomes = await query_events(
            connection, EventQuery(job_id=job_id, kind=EventKind.JOB_OUTCOME.value, limit=1)
        )
        decisions = await query_events(
            connection, EventQuery(job_id=job_id, kind=EventKind.POLICY_DECISION.value, limit=1)
        )
    return (
        outcomes.events[0] if outcomes.events else None,
        decisions.events[0] if decisions.events else None,
    )
