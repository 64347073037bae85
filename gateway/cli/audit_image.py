"""`clearance audit image FILE.png`: trace an image file back to the job, decision and licenses
it was generated under, proven by the audit log (`gateway.audit.trace`).

Exit 0: the chain verifies and the job's outcome records exactly this file's bytes. Exit 1: it
does not (an altered file, another job's, or a tampered chain). Exit 2: it could not be checked
(no provenance, not a PNG, no key, database unreachable, an outcome recorded before image digests
were kept).
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from gateway.audit.trace import ImageTrace, ImageTraceError, trace_image
from gateway.cli.audit_support import CouldNotVerifyError, public_key_option, run_on_engine, trusted_verifier
from gateway.settings import Settings


@click.command("image")
@click.argument("path", metavar="FILE.png", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@public_key_option
@click.pass_obj
def image(settings: Settings, path: Path, public_key: Path | None) -> None:
    """Trace an image to its job, decision and licenses; exit 0 when the audit log proves this
    very file was delivered by that job, 1 when it does not, 2 when it could not be checked."""
    data = path.read_bytes()
    verifier = trusted_verifier(settings, public_key, None)
    try:
        trace = run_on_engine(
            settings, lambda engine: trace_image(engine, data, verifier), CouldNotVerifyError
        )
    except ImageTraceError as exc:
        raise CouldNotVerifyError(f"{path}: {exc}") from exc
    if trace.verdict == "tampered":
        click.echo(f"TAMPERED: {trace.reason}")
        sys.exit(1)
    if trace.verdict == "not_proven":
        click.echo(f"NOT PROVEN: {path} (sha256 {trace.sha256}): {trace.reason}")
        sys.exit(1)
    if trace.verdict == "unverifiable":
        raise CouldNotVerifyError(trace.reason)
    _report(path, trace)


def _report(path: Path, trace: ImageTrace) -> None:
    recorded = trace.recorded_at.isoformat() if trace.recorded_at is not None else "?"
    click.echo(f"ok: {path} is image {trace.index} of job {trace.job_id} (sha256 {trace.sha256})")
    click.echo(
        f"  outcome: {trace.status} at sequence {trace.outcome_seq} ({recorded}), "
        f"tenant {trace.tenant}, runner {trace.runner}"
    )
    click.echo(f"  purpose: {trace.purpose}, output use: {trace.output_use}")
    click.echo(f"  artifacts: {', '.join(trace.artifacts)}")
    click.echo(f"  licenses: {', '.join(trace.licenses) or '-'}")
    click.echo(f"  agreements relied on: {', '.join(trace.agreements) or '-'}")
    click.echo(f"  decision: {trace.decision_id} (sequence {trace.decision_seq})")
    click.echo(f"  chain: {trace.events_verified} events verified, head {trace.chain_head}")
