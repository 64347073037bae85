"""`clearance models build-demo DIR`: tiny random-weight pipelines for demos and local trials."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.group()
def models() -> None:
    """Model files for local runners."""


@models.command("build-demo")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--adapters",
    "adapters_per_family",
    default=3,
    show_default=True,
    help="LoRA adapters to build per family.",
)
def build_demo(directory: Path, adapters_per_family: int) -> None:
    """Build tiny SD 1.x, FLUX.1, FLUX.2 and FLUX.2 [klein] pipelines (real diffusers classes,
    random weights) and LoRA adapters for each into DIRECTORY, with a manifest of their hashes."""
    from runners.tiny import build_tiny_models, write_manifest

    try:
        built = build_tiny_models(directory, adapters_per_family=adapters_per_family)
        manifest = write_manifest(built)
    except OSError as exc:
        where = exc.filename or directory
        raise click.ClickException(f"{where}: cannot write there: {exc.strerror}") from exc
    for family, model in built.models.items():
        click.echo(f"{family.value}: {model.path} ({len(model.adapters)} adapters)")
    click.echo(f"manifest: {manifest}")
    click.echo(json.dumps({"families": [f.value for f in built.models]}))
