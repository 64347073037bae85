"""`clearance models build-demo` builds pipelines a runner can load from the manifest alone."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gateway.cli import main
from runners.local import LocalDiffusersRunner, LocalRunnerSettings
from runners.task import ModelFamily
from runners.tiny import read_manifest
from tests.runners.support_runner_tasks import DEVICE, make_task


async def test_build_demo_writes_loadable_models(tmp_path: Path) -> None:
    target = tmp_path / "demo"
    outcome = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), "models", "build-demo", str(target), "--adapters", "1"]
    )
    assert outcome.exit_code == 0, outcome.output
    assert "manifest:" in outcome.output

    models = read_manifest(target)
    assert set(models.models) == {
        ModelFamily.SD1,
        ModelFamily.FLUX1,
        ModelFamily.FLUX2,
        ModelFamily.FLUX2_KLEIN,
    }
    klein = models[ModelFamily.FLUX2_KLEIN]
    runner = LocalDiffusersRunner(LocalRunnerSettings(device=DEVICE, max_wait_s=0.0))
    try:
        result = await runner.submit(make_task(klein.pipeline, klein.adapters))
    finally:
        await runner.close()
    assert len(result.images) == 1


def test_build_demo_into_a_place_it_cannot_write_is_a_precise_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    outcome = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), "models", "build-demo", str(blocker / "demo")]
    )
    assert outcome.exit_code == 1
    assert "cannot write there: Not a directory" in outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit)
