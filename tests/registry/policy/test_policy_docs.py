"""docs/policy.md stays true: its scenario files are the ones in docs/policy/, and the output it
shows is what `clearance policy evaluate` prints for them (decision ids masked: they change with
the catalog's digest)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gateway.cli import main

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "policy.md"
BLOCK = re.compile(r"```(?P<lang>yaml|text)\n(?P<body>.*?)```", re.DOTALL)
DECISION_ID = re.compile(r"decision id: [0-9a-f-]{36}")


def _blocks(lang: str) -> list[str]:
    return [m["body"] for m in BLOCK.finditer(DOC.read_text()) if m["lang"] == lang]


def _outputs() -> dict[str, str]:
    shown = {}
    for body in _blocks("text"):
        first, _, rest = body.partition("\n")
        if first.startswith("$ clearance policy evaluate "):
            shown[first.removeprefix("$ clearance policy evaluate ")] = rest
    return shown


def test_doc_shows_every_scenario_file_as_it_is() -> None:
    shown = {}
    for body in _blocks("yaml"):
        first = body.partition("\n")[0]
        if first.startswith("# docs/policy/"):
            shown[first.removeprefix("# ")] = body
    files = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs" / "policy").glob("*.yaml"))
    assert sorted(shown) == [f for f in files if not f.endswith("deployment.yaml")]
    for name, body in shown.items():
        assert (ROOT / name).read_text() == body, name


@pytest.mark.parametrize("scenario", sorted(_outputs()))
def test_doc_output_is_what_the_command_prints(scenario: str) -> None:
    result = CliRunner().invoke(main, ["policy", "evaluate", str(ROOT / scenario)])
    assert result.exit_code == 0, result.output
    expected = DECISION_ID.sub("decision id: *", _outputs()[scenario])
    assert DECISION_ID.sub("decision id: *", result.output) == expected
