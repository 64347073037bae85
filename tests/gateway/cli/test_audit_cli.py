"""`clearance audit ...` and the audited `clearance catalog load`, through CliRunner on real databases."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy import text

from gateway.cli import main
from registry.audit import AuditLog, NewEvent, load_or_create_signing_key
from registry.db.engine import create_engine

FIXTURES = Path(__file__).resolve().parents[2] / "registry" / "catalog" / "fixtures"


def _run(url: str, data_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--database-url", url, "--data-dir", str(data_dir), "audit", *args], catch_exceptions=False
    )


def _append(url: str, data_dir: Path, count: int, clock: dt.datetime | None = None) -> None:
    async def append() -> None:
        engine = create_engine(url)
        signer = load_or_create_signing_key(data_dir)
        kwargs = {"clock": lambda: clock} if clock else {}
        async with AuditLog(engine, signer=signer, **kwargs) as log:  # type: ignore[arg-type]
            for i in range(count):
                await log.append(NewEvent(kind="policy.decision", tenant="acme", payload={"i": i}))
        await engine.dispose()

    asyncio.run(append())


def _sql(url: str, statement: str) -> None:
    async def execute() -> None:
        engine = create_engine(url)
        async with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                await connection.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
            else:
                await connection.execute(text("DROP TRIGGER audit_events_reject_update"))
            await connection.exec_driver_sql(statement)
        await engine.dispose()

    asyncio.run(execute())


def test_verify_export_checkpoint_and_tamper(migrated_url: str, tmp_path: Path) -> None:
    _append(migrated_url, tmp_path, 12)
    cp = tmp_path / "cp.json"
    signed = _run(migrated_url, tmp_path, "checkpoint", "-o", str(cp))
    assert signed.exit_code == 0, signed.output
    assert json.loads(cp.read_text())["sequence"] == 12

    ok = _run(migrated_url, tmp_path, "verify", "--from-checkpoint", str(cp))
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("ok: 12 events 1..12")

    exported = _run(migrated_url, tmp_path, "export", "--tenant", "acme", "--format", "jsonl")
    assert exported.exit_code == 0
    assert [json.loads(line)["seq"] for line in exported.stdout.splitlines()] == list(range(1, 13))

    _sql(migrated_url, "UPDATE audit_events SET payload = '{\"i\":99}' WHERE seq = 5")
    tampered = _run(migrated_url, tmp_path, "verify", "--from-checkpoint", str(cp))
    assert tampered.exit_code == 1
    assert "TAMPERED at sequence 5" in tampered.output


def test_purge_reanchors_and_verify_passes_from_the_new_checkpoint(sqlite_url: str, tmp_path: Path) -> None:
    from registry.db import migrate

    migrate.upgrade(sqlite_url)
    _append(sqlite_url, tmp_path, 5, clock=dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    _append(sqlite_url, tmp_path, 3)
    purged = _run(
        sqlite_url, tmp_path, "purge", "--before", "2025-06-01", "--checkpoint-out", str(tmp_path / "p.json")
    )
    assert purged.exit_code == 0, purged.output
    assert "purged 5 events through sequence 5; purge recorded as event 9" in purged.output
    verified = _run(sqlite_url, tmp_path, "verify", "--from-checkpoint", str(tmp_path / "p.json"))
    assert verified.exit_code == 0, verified.output
    assert verified.output.startswith("ok: 4 events 6..9")
    refused = _run(sqlite_url, tmp_path, "purge", "--before", "2025-06-01")
    assert refused.exit_code == 1
    assert "no audit events recorded before" in refused.output


def test_bad_options_are_precise(sqlite_url: str, tmp_path: Path) -> None:
    assert "is not a date" in _run(sqlite_url, tmp_path, "export", "--since", "yesterday").output
    missing = _run(sqlite_url, tmp_path, "verify", "--from-checkpoint", str(tmp_path / "none.json"))
    assert missing.exit_code == 2
    assert "cannot read checkpoint file" in missing.output
    unmigrated = _run(sqlite_url, tmp_path, "verify")
    assert unmigrated.exit_code == 2
    assert "no such table: audit_anchors" in unmigrated.output
    assert "is not YYYY-MM" in _run(sqlite_url, tmp_path, "usage", "--month", "2026-13").output


def test_public_key_is_printed_as_pem_and_jwk(sqlite_url: str, tmp_path: Path) -> None:
    pem = _run(sqlite_url, tmp_path, "public-key")
    assert pem.output.startswith("-----BEGIN PUBLIC KEY-----")
    jwk = json.loads(_run(sqlite_url, tmp_path, "public-key", "--jwk").output)
    assert jwk["kid"] == load_or_create_signing_key(tmp_path).key_id


def test_catalog_load_is_audited_with_actor_and_before_after(migrated_url: str, tmp_path: Path) -> None:
    licenses = str(FIXTURES / "licenses.yaml")
    for _ in range(2):
        loaded = CliRunner().invoke(main, ["--database-url", migrated_url, "catalog", "load", licenses])
        assert loaded.exit_code == 0, loaded.output
    exported = _run(migrated_url, tmp_path, "export", "--kind", "catalog.load")
    first, second = (json.loads(line) for line in exported.stdout.splitlines())
    assert first["actor_subject"].startswith("cli:")
    created = first["payload"]["changes"]
    assert {change["action"] for change in created} == {"created"}
    assert all(change["before"] is None and change["after"] for change in created)
    assert first["payload"]["sources"] == [licenses]
    assert (second["payload"]["changes"], second["payload"]["unchanged"]) == ([], len(created))
    assert _run(migrated_url, tmp_path, "verify").exit_code == 0


def test_sqlite_rows_are_stored_in_the_orm_form(sqlite_url: str, tmp_path: Path) -> None:
    from registry.db import migrate

    migrate.upgrade(sqlite_url)
    _append(sqlite_url, tmp_path, 1, clock=dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC))
    with sqlite3.connect(sqlite_url.split("///", 1)[1]) as db:
        assert db.execute("SELECT recorded_at FROM audit_events").fetchone() == (
            "2026-02-03 04:05:06.000000",
        )
