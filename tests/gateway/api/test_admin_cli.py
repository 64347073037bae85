"""`clearance tenants create|profile`, `clearance agreements create|revoke|list`: the same audited
admin operations as the API, with the actor `cli:<user>`; bad input names the field, writes nothing."""

from __future__ import annotations

import asyncio
import getpass
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from gateway.cli import main
from registry.audit import EventQuery, query_events
from registry.db.engine import create_engine


def _run(database_url: str, tmp_path: Path, *args: str) -> Any:
    return CliRunner().invoke(
        main, ["--data-dir", str(tmp_path), "--database-url", database_url, *args], catch_exceptions=False
    )


async def _admin_changes(database_url: str) -> list[tuple[str, str, str | None]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            page = await query_events(connection, EventQuery(kind="admin.change", limit=1000))
    finally:
        await engine.dispose()
    return [(json.loads(e.payload)["action"], e.actor_subject or "", e.tenant) for e in page.events]


def test_bootstrap_from_the_cli_is_audited(sqlite_api_db: str, tmp_path: Path) -> None:
    url = sqlite_api_db
    assert _run(url, tmp_path, "tenants", "create", "--id", "initech", "--name", "Initech").exit_code == 0
    again = _run(url, tmp_path, "tenants", "create", "--id", "initech", "--name", "Initech")
    assert again.exit_code != 0
    assert "exists already" in again.output
    profile = _run(
        url, tmp_path, "tenants", "profile", "--id", "initech", "--organisation-type", "company",
        "--country", "DE", "--annual-revenue-usd", "2500000", "--not-core-business",
    )  # fmt: skip
    assert profile.exit_code == 0, profile.output
    created = _run(
        url, tmp_path, "agreements", "create", "--id", "initech-sai", "--holder", "initech",
        "--licensor", "Stability AI", "--family", "stability-ai-community",
        "--purpose", "commercial_product", "--valid-from", "2025-01-01",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    bad = _run(
        url, tmp_path, "agreements", "create", "--id", "bad", "--holder", "initech", "--licensor", "X",
        "--family", "no-such-family", "--purpose", "personal", "--valid-from", "2025-01-01",
    )  # fmt: skip
    assert bad.exit_code != 0
    assert "covers.license_families[0]" in bad.output
    assert (
        _run(url, tmp_path, "agreements", "revoke", "--id", "initech-sai", "--on", "2026-02-01").exit_code
        == 0
    )
    listed = _run(url, tmp_path, "agreements", "list", "--holder", "initech")
    assert [json.loads(line)["revoked_at"] for line in listed.output.splitlines()] == ["2026-02-01"]

    actor = f"cli:{getpass.getuser()}"
    assert asyncio.run(_admin_changes(url)) == [
        ("tenant.create", actor, "initech"),
        ("tenant.profile.update", actor, "initech"),
        ("agreement.create", actor, "initech"),
        ("agreement.revoke", actor, "initech"),
    ]
