"""The README stays true: its links resolve, its make targets exist, its CLI examples run."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
CLEARANCE = Path(sys.executable).with_name("clearance")


def test_every_linked_document_exists() -> None:
    links = re.findall(r"\]\(([^)#]+)\)", README)
    assert links
    assert [link for link in links if not (ROOT / link).exists()] == []


def test_every_make_target_named_exists() -> None:
    makefile = (ROOT / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z-]+):", makefile, flags=re.M))
    named = set(re.findall(r"`?make ([a-z-]+)", README))
    assert named
    assert named <= targets


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in README
    assert "make test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    "example",
    [
        "clearance catalog show",
        "clearance policy evaluate docs/policy/flux2-turbo-commercial-denied.yaml",
        "clearance audit verify",
    ],
)
def test_usage_example_runs(example: str, tmp_path: Path) -> None:
    assert example in README
    env = {"CLEARANCE_DATA_DIR": str(tmp_path), "HF_HUB_OFFLINE": "1", "PATH": str(CLEARANCE.parent)}
    for setup in ("clearance db upgrade", "clearance catalog load --builtin"):
        subprocess.run(
            [str(CLEARANCE), *shlex.split(setup)[1:]], cwd=ROOT, env=env, check=True, capture_output=True
        )
    done = subprocess.run(
        [str(CLEARANCE), *shlex.split(example)[1:]], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()
