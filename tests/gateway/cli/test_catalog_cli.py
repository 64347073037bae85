"""`clearance catalog ...` through click's CliRunner on real databases."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from gateway.cli import main
from registry.catalog.files import parse_catalog

FIXTURES = Path(__file__).resolve().parents[2] / "registry" / "catalog" / "fixtures"
LICENSES = str(FIXTURES / "licenses.yaml")
MODELS = str(FIXTURES / "models.yaml")


def _run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--database-url", url, "catalog", *args], catch_exceptions=False)


def test_validate_accepts_good_files_and_names_problems(sqlite_url: str, tmp_path: Path) -> None:
    ok = _run(sqlite_url, "validate", LICENSES, MODELS)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("valid: 3 licenses, 3 artifacts")

    bad = tmp_path / "bad.yaml"
    bad.write_text("runners:\n  - {id: r, kind: local_diffusers, host: operator, artifacts: [ghost/model]}\n")
    result = _run(sqlite_url, "validate", LICENSES, MODELS, str(bad))
    assert result.exit_code == 1
    assert f"error: {bad}: runners r, field artifacts[0]: unknown artifact 'ghost/model'" in result.output


def test_validate_resolves_against_the_builtin_catalog(sqlite_url: str, tmp_path: Path) -> None:
    lora = tmp_path / "lora.yaml"
    lora.write_text(
        "artifacts:\n  - id: me/turbo-style\n    kind: adapter\n    name: My style\n"
        "    license: flux-dev-ncl@2.0\n    bases: [black-forest-labs/FLUX.2-dev]\n"
    )
    assert _run(sqlite_url, "validate", str(lora)).exit_code == 1
    assert _run(sqlite_url, "validate", "--builtin", str(lora)).exit_code == 0


def test_load_show_export_and_reload(migrated_url: str, tmp_path: Path) -> None:
    loaded = _run(migrated_url, "load", LICENSES, MODELS)
    assert loaded.exit_code == 0, loaded.output
    assert "licenses: 3 created" in loaded.output

    shown = _run(migrated_url, "show")
    assert shown.exit_code == 0, shown.output
    assert "flux-dev-ncl@2.0: FLUX [dev] Non-Commercial License v2.0 (Black Forest Labs)" in shown.output
    assert "requires agreement: commercial_product, hosted_service" in shown.output
    assert (
        "fal/FLUX.2-dev-Turbo: FLUX.2 [dev] Turbo (license flux-dev-ncl@2.0; on black-forest-labs/FLUX.2-dev)"
        in (shown.output)
    )

    target = tmp_path / "export.yaml"
    exported = _run(migrated_url, "export", "--output", str(target))
    assert exported.exit_code == 0, exported.output
    assert parse_catalog(target.read_bytes(), file=str(target)).artifacts
    again = _run(migrated_url, "load", str(target))
    assert again.exit_code == 0, again.output
    assert "created" not in again.output
    assert "updated" not in again.output

    to_stdout = _run(migrated_url, "export")
    assert yaml.safe_load(to_stdout.output) == yaml.safe_load(target.read_text())


def test_a_bad_file_loads_nothing(sqlite_url: str, tmp_path: Path) -> None:
    from registry.db import migrate

    migrate.upgrade(sqlite_url)
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        Path(MODELS).read_text().replace("price_per_megapixel_usd: 0.004", "price_per_megapixel_usd: -1")
    )
    result = _run(sqlite_url, "load", LICENSES, str(broken))
    assert result.exit_code == 1
    assert f"error: {broken}: runners local-gpu, field price_per_megapixel_usd: Expected `float` >= 0.0" in (
        result.output
    )
    assert "Licenses (0)" in _run(sqlite_url, "show").output


def test_load_needs_files_or_builtin(sqlite_url: str) -> None:
    result = _run(sqlite_url, "load")
    assert result.exit_code == 2
    assert "give catalog FILES or --builtin" in result.output


def test_unmigrated_database_is_a_clear_error(sqlite_url: str) -> None:
    result = _run(sqlite_url, "show")
    assert result.exit_code == 1
    assert "run `clearance db upgrade`" in result.output


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_builtin_catalog_loads_shows_and_round_trips_on_postgresql(migrated_url: str, tmp_path: Path) -> None:
    first = _run(migrated_url, "load", "--builtin")
    assert first.exit_code == 0, first.output
    shown = _run(migrated_url, "show").output
    assert "black-forest-labs/FLUX.2-dev" in shown
    target = tmp_path / "builtin-export.yaml"
    assert _run(migrated_url, "export", "-o", str(target)).exit_code == 0
    again = _run(migrated_url, "load", str(target))
    assert again.exit_code == 0, again.output
    assert "created" not in again.output
    assert "updated" not in again.output


def test_validate_against_the_database_refuses_edited_terms(sqlite_url: str, tmp_path: Path) -> None:
    from registry.db import migrate

    migrate.upgrade(sqlite_url)
    assert _run(sqlite_url, "load", LICENSES, MODELS).exit_code == 0
    edited = tmp_path / "licenses.yaml"
    edited.write_text(Path(LICENSES).read_text().replace("use_case: military", "use_case: surveillance"))
    assert _run(sqlite_url, "validate", str(edited)).exit_code == 0
    result = _run(sqlite_url, "validate", "--against-database", str(edited))
    assert result.exit_code == 1
    assert f"error: {edited}: licenses flux-dev-ncl@2.0, field terms:" in result.output
    assert "create a new version" in result.output
    refused = _run(sqlite_url, "load", str(edited))
    assert refused.exit_code == 1
    assert "create a new version" in refused.output
