"""`clearance audit verify|export|purge|checkpoint|public-key|usage|licensor-usage|image`."""

from __future__ import annotations

import datetime as dt
import getpass
import sys
from pathlib import Path

import click
import msgspec
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.api.errors import InvalidQueryError
from gateway.audit.schemas import month_window
from gateway.cli.audit_image import image
from gateway.cli.audit_support import CouldNotVerifyError, public_key_option, run_on_engine, trusted_verifier
from gateway.settings import Settings
from registry.audit import (
    AuditError,
    AuditLog,
    Checkpoint,
    export_checkpoint,
    load_or_create_signing_key,
    monthly_usage,
    purge_before,
    read_checkpoint_file,
    verify_chain,
)
from registry.audit.export import export_events
from registry.db.engine import session_factory
from registry.delivery.reconcile import UsageReconciliation, reconcile_usage_reports


def cli_actor() -> str:
    """The actor recorded for commands run from the command line: `cli:<OS user>`."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"


def _moment(value: str | None, option: str) -> dt.datetime | None:
    """`YYYY-MM-DD` (midnight UTC) or an ISO 8601 date-time; without an offset it is UTC."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise click.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD) or ISO date-time", param_hint=option
        ) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


@click.group()
def audit() -> None:
    """The tamper-evident audit log."""


@audit.command()
@click.option(
    "--from-checkpoint",
    "checkpoint_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A signed checkpoint exported earlier: also proves the tail was not truncated.",
)
@public_key_option
@click.pass_obj
def verify(settings: Settings, checkpoint_file: Path | None, public_key: Path | None) -> None:
    """Recompute the chain; exit 0 if intact, 1 with the first bad sequence number if not,
    2 if it could not verify."""
    try:
        checkpoint = read_checkpoint_file(checkpoint_file) if checkpoint_file else None
    except AuditError as exc:
        raise CouldNotVerifyError(str(exc)) from exc
    verifier = trusted_verifier(settings, public_key, checkpoint)
    report = run_on_engine(
        settings,
        lambda engine: verify_chain(engine, verifier=verifier, checkpoint=checkpoint),
        CouldNotVerifyError,
    )
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    if report.ok:
        click.echo(
            f"ok: {report.events_checked} events {report.start_seq}..{report.head_seq}, "
            f"{report.checkpoints_checked} checkpoints, head {report.head_chain_hash}"
        )
        return
    click.echo(f"TAMPERED at sequence {report.first_bad_seq}: {report.problem}")
    sys.exit(1)


@audit.command()
@click.option("--since", help="From this date or date-time (inclusive, UTC).")
@click.option("--until", help="Up to this date or date-time (exclusive, UTC).")
@click.option("--tenant", help="Only this tenant's events.")
@click.option("--kind", help="Only events of this kind (e.g. job.outcome).")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), help="File (default stdout)."
)
@click.pass_obj
def export(
    settings: Settings,
    since: str | None,
    until: str | None,
    tenant: str | None,
    kind: str | None,
    fmt: str,
    output: Path | None,
) -> None:
    """Export events in sequence order as JSON Lines or CSV."""
    start, end = _moment(since, "--since"), _moment(until, "--until")
    out = output.open("w", newline="") if output else sys.stdout
    try:
        count = run_on_engine(
            settings,
            lambda engine: export_events(
                engine,
                out,
                fmt="csv" if fmt == "csv" else "jsonl",
                since=start,
                until=end,
                tenant=tenant,
                kind=kind,
            ),
        )
    finally:
        if output:
            out.close()
    click.echo(f"exported {count} events", err=True)


@audit.command()
@click.option("--before", required=True, help="Purge events recorded before this date (UTC).")
@click.option(
    "--checkpoint-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to export the new signed checkpoint (default: data dir).",
)
@click.pass_obj
def purge(settings: Settings, before: str, checkpoint_out: Path | None) -> None:
    """Retention: purge old events; the purge is audited and re-anchors the chain."""
    moment = _moment(before, "--before")
    assert moment is not None
    signer = load_or_create_signing_key(settings.data_dir)
    report = run_on_engine(
        settings, lambda engine: purge_before(engine, moment, signer=signer, actor_subject=cli_actor())
    )
    target = checkpoint_out or _default_checkpoint_path(settings, report.checkpoint.sequence)
    target.parent.mkdir(parents=True, exist_ok=True)
    export_checkpoint(report.checkpoint, target)
    click.echo(
        f"purged {report.purged_events} events through sequence {report.through_seq}; "
        f"purge recorded as event {report.purge_event.seq}; checkpoint written to {target}"
    )


@audit.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the checkpoint (default: data dir).",
)
@click.pass_obj
def checkpoint(settings: Settings, output: Path | None) -> None:
    """Sign the chain's current head and export the checkpoint to a file kept outside the database."""
    signer = load_or_create_signing_key(settings.data_dir)

    async def sign(engine: AsyncEngine) -> Checkpoint | None:
        async with AuditLog(engine, signer=signer) as log:
            return await log.checkpoint()

    signed = run_on_engine(settings, sign)
    if signed is None:
        raise click.ClickException("the audit log is empty: nothing to sign")
    target = output or _default_checkpoint_path(settings, signed.sequence)
    target.parent.mkdir(parents=True, exist_ok=True)
    export_checkpoint(signed, target)
    click.echo(f"checkpoint at sequence {signed.sequence} written to {target}")


@audit.command("public-key")
@click.option("--jwk", is_flag=True, help="As a JWK (RFC 8037) instead of PEM.")
@click.pass_obj
def public_key(settings: Settings, jwk: bool) -> None:
    """Print the public key that verifies checkpoints (created with the key pair if missing)."""
    signer = load_or_create_signing_key(settings.data_dir)
    if jwk:
        click.echo(msgspec.json.encode(signer.public_key_jwk()).decode())
    else:
        click.echo(signer.public_key_pem(), nl=False)


@audit.command()
@click.option("--month", required=True, help="YYYY-MM (UTC).")
@click.option("--tenant", help="Only this tenant.")
@click.pass_obj
def usage(settings: Settings, month: str, tenant: str | None) -> None:
    """Monthly usage from job.outcome events, as JSON."""
    try:
        year, number = (int(part) for part in month.split("-"))
        dt.date(year, number, 1)
    except ValueError as exc:
        raise click.BadParameter(f"{month!r} is not YYYY-MM", param_hint="--month") from exc

    async def summarise(engine: AsyncEngine) -> bytes:
        async with engine.connect() as connection:
            return msgspec.json.encode(await monthly_usage(connection, year, number, tenant=tenant))

    click.echo(msgspec.json.format(run_on_engine(settings, summarise)).decode())


@audit.command("licensor-usage")
@click.option("--month", required=True, help="YYYY-MM (UTC): the jobs whose outcome was recorded then.")
@click.option("--tenant", help="Only this tenant's jobs.")
@click.option("--json", "as_json", is_flag=True, help="Print the reconciliation as JSON.")
@click.pass_obj
def licensor_usage(settings: Settings, month: str, tenant: str | None, as_json: bool) -> None:
    """Licensor usage reports reconciled with the audit log: the reports the month's jobs owe
    (their recorded decisions' usage-metering obligations) against those queued and delivered.
    Exit 0 when balanced, 1 when a report is missing, wrong, pending, given up or unexpected."""
    try:
        since, until = month_window(month)
    except InvalidQueryError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from exc

    async def reconcile(engine: AsyncEngine) -> UsageReconciliation:
        async with session_factory(engine)() as session:
            return await reconcile_usage_reports(session, since=since, until=until, tenant=tenant)

    report: UsageReconciliation = run_on_engine(settings, reconcile)
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(report)).decode())
    else:
        click.echo(
            f"{month}: {report.generated_total} images owe reports, {report.delivered_total} reported and "
            f"delivered: {'balanced' if report.balanced else 'NOT BALANCED'}"
        )
        for name, lines in (
            ("missing (never queued)", report.missing),
            ("wrong count", report.count_mismatch),
            ("pending (retrying)", report.pending),
            ("given up (retries exhausted)", report.given_up),
            ("unexpected (no outcome in the month)", report.unexpected),
        ):
            for line in lines:
                message = f" message {line.message_id}" if line.message_id else ""
                click.echo(
                    f"  {name}: job {line.job_id} model {line.model_slug}: generated {line.generated}, "
                    f"reported {line.reported}{message}"
                )
    if not report.balanced:
        sys.exit(1)


def _default_checkpoint_path(settings: Settings, sequence: int) -> Path:
    return settings.data_dir / "audit-checkpoints" / f"checkpoint-{sequence:012d}.json"


audit.add_command(image)
