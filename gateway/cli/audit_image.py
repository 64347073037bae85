"""`clearance audit image FILE.png`: trace an image file back to the job, decision and licenses
it was generated under, and prove it with the audit log.

The PNG names its job in its provenance chunk, but a chunk can be written by anyone; what proves
the file is the job's `job.outcome` event, which records the SHA-256 of every image delivered, in
a hash chain that is verified first. Exit 0: the chain verifies and the job's outcome records
exactly this file's bytes. Exit 1: it does not (an altered file, another job's, or a tampered
chain). Exit 2: it could not be checked (no provenance, no key, database unreachable, an outcome
recorded before image digests were kept).
"""

from __future__ import annotations

import hashlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.cli.audit_support import CouldNotVerifyError, public_key_option, run_on_engine, trusted_verifier
from gateway.settings import Settings
from gateway.storage.provenance import Provenance, ProvenanceError, read_provenance
from registry.audit import AppendedEvent, EventKind, EventQuery, query_events, verify_chain
from registry.audit.signing import CheckpointVerifier
from registry.audit.verify import VerificationReport


@dataclass(frozen=True)
class _Found:
    report: VerificationReport
    outcome: AppendedEvent | None
    decision: AppendedEvent | None


@click.command("image")
@click.argument("path", metavar="FILE.png", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@public_key_option
@click.pass_obj
def image(settings: Settings, path: Path, public_key: Path | None) -> None:
    """Trace an image to its job, decision and licenses; exit 0 when the audit log proves this
    very file was delivered by that job, 1 when it does not, 2 when it could not be checked."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    provenance = _provenance(path, data)
    verifier = trusted_verifier(settings, public_key, None)
    found = run_on_engine(settings, lambda engine: _find(engine, provenance, verifier), CouldNotVerifyError)
    report = found.report
    if not report.ok:
        click.echo(f"TAMPERED at sequence {report.first_bad_seq}: {report.problem}")
        sys.exit(1)
    if found.outcome is None:
        click.echo(f"NOT PROVEN: {path} names job {provenance.job_id}; the audit log holds no outcome of it")
        sys.exit(1)
    outcome: dict[str, Any] = found.outcome.payload_value()
    digests: list[str] = outcome.get("image_sha256") or []
    if not digests:
        raise CouldNotVerifyError(
            f"the outcome of job {provenance.job_id} (sequence {found.outcome.seq}) records no image "
            "digests: it was recorded before Clearance kept them, or the job delivered no image"
        )
    if digest not in digests:
        click.echo(
            f"NOT PROVEN: {path} (sha256 {digest}) is none of the {len(digests)} image(s) job "
            f"{provenance.job_id} delivered: the file was altered after delivery, or its provenance "
            "names another job"
        )
        sys.exit(1)
    _report(path, digest, digests.index(digest), provenance, outcome, found)


def _provenance(path: Path, data: bytes) -> Provenance:
    try:
        return read_provenance(data)
    except ProvenanceError as exc:
        raise CouldNotVerifyError(f"{path}: no Clearance provenance to trace: {exc}") from exc
    except Exception as exc:  # Pillow's errors for a file that is not an image
        raise CouldNotVerifyError(f"{path}: not a PNG image ({type(exc).__name__}: {exc})") from exc


async def _find(engine: AsyncEngine, provenance: Provenance, verifier: CheckpointVerifier | None) -> _Found:
    report = await verify_chain(engine, verifier=verifier, checkpoint=None)
    async with engine.connect() as connection:
        outcomes = await query_events(
            connection, EventQuery(job_id=provenance.job_id, kind=EventKind.JOB_OUTCOME.value, limit=2)
        )
        decisions = await query_events(
            connection,
            EventQuery(job_id=provenance.job_id, kind=EventKind.POLICY_DECISION.value, limit=1),
        )
    return _Found(
        report,
        outcomes.events[0] if outcomes.events else None,
        decisions.events[0] if decisions.events else None,
    )


def _report(
    path: Path, digest: str, index: int, provenance: Provenance, outcome: dict[str, Any], found: _Found
) -> None:
    assert found.outcome is not None
    event = found.outcome
    click.echo(f"ok: {path} is image {index} of job {provenance.job_id} (sha256 {digest})")
    click.echo(
        f"  outcome: {outcome.get('status')} at sequence {event.seq} ({event.recorded_at.isoformat()}), "
        f"tenant {event.tenant}, runner {outcome.get('runner')}"
    )
    click.echo(f"  purpose: {outcome.get('purpose')}, output use: {outcome.get('output_use')}")
    click.echo(f"  artifacts: {', '.join(outcome.get('artifacts', []))}")
    click.echo(f"  licenses: {', '.join(outcome.get('licenses', [])) or '-'}")
    click.echo(f"  agreements relied on: {', '.join(outcome.get('agreements', [])) or '-'}")
    if found.decision is not None:
        click.echo(f"  decision: {found.decision.decision_id} (sequence {found.decision.seq})")
    report = found.report
    click.echo(f"  chain: {report.events_checked} events verified, head {report.head_chain_hash}")
