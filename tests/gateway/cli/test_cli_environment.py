"""A database that cannot be reached or opened, or a database URL that names no driver, is one
precise line and exit status 1 on the CLI, not a traceback; output whose reader goes away
(`| head`) stops the command quietly, without blaming the database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main
from tests.support_served import CLI, free_port


def _run(tmp_path: Path, database_url: str, *args: str) -> tuple[int, str]:
    outcome = CliRunner().invoke(main, ["--data-dir", str(tmp_path), "--database-url", database_url, *args])
    assert isinstance(outcome.exception, SystemExit), outcome.exception  # no other exception escaped
    return outcome.exit_code, outcome.output


@pytest.mark.parametrize("command", [("db", "upgrade"), ("tenants", "create", "--id", "t", "--name", "T")])
def test_a_database_nobody_listens_for(tmp_path: Path, command: tuple[str, ...]) -> None:
    port = free_port()
    code, said = _run(tmp_path, f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test", *command)
    assert code == 1
    assert "Error: the database cannot be used now:" in said
    assert str(port) in said


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("bogus://host/db", "Error: --database-url: Can't load plugin: sqlalchemy.dialects:bogus"),
        ("not a url", "Error: --database-url: Could not parse SQLAlchemy URL"),
    ],
)
def test_a_database_url_naming_no_driver(tmp_path: Path, url: str, expected: str) -> None:
    code, said = _run(tmp_path, url, "db", "upgrade")
    assert code == 1
    assert expected in said


def test_a_sqlite_file_where_no_directory_can_be(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, said = _run(tmp_path, f"sqlite+aiosqlite:///{blocker}/sub/clearance.db", "db", "upgrade")
    assert code == 1
    assert f"Error: {blocker}/sub: Not a directory" in said


def test_output_cut_short_by_its_reader_stops_quietly(tmp_path: Path) -> None:
    env = {**os.environ, "CLEARANCE_DATA_DIR": str(tmp_path)}
    for setup in (["db", "upgrade"], ["catalog", "load", "--builtin"]):
        subprocess.run([*CLI, *setup], env=env, check=True, capture_output=True, timeout=120)
    export = subprocess.Popen(
        [*CLI, "audit", "export"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert export.stdout is not None
    assert export.stderr is not None
    export.stdout.close()  # as `| head` does once it has read enough: here before anything is written
    said = export.stderr.read().decode()
    assert export.wait(timeout=120) == 1
    assert "Traceback" not in said
    assert "Broken pipe" not in said
    assert "database" not in said
