"""`clearance policy evaluate`: JSON output, expectations, and precise errors for bad scenarios."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from click.testing import CliRunner

from gateway.cli import main
from registry.policy import PolicyDecision
from registry.vocabulary import Decision

DEPLOYMENT = Path(__file__).parent / "fixtures" / "deployment.yaml"

GOOD = """\
catalogs: [deployment.yaml]
request:
  tenant_id: acme
  model_id: stabilityai/stable-diffusion-3.5-large
  runner_id: local-sd
  purpose: commercial_product
  date: 2026-11-26
"""


def _run(tmp_path: Path, text: str, *args: str) -> tuple[int, str, str]:
    (tmp_path / "deployment.yaml").write_bytes(DEPLOYMENT.read_bytes())
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(text)
    result = CliRunner().invoke(main, ["policy", "evaluate", str(scenario), *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_output_decodes_as_a_decision(tmp_path: Path) -> None:
    code, out, _ = _run(tmp_path, GOOD, "--json")
    assert code == 0
    decision = msgspec.json.decode(out, type=PolicyDecision)
    assert decision.decision is Decision.ALLOW_WITH_OBLIGATIONS
    assert decision.runner_id == "local-sd"


def test_inline_tenant_and_operator(tmp_path: Path) -> None:
    text = """\
catalogs: [deployment.yaml]
tenant: {id: newco, name: NewCo, profile: {country: US, annual_revenue_usd: 2000000}}
operator: {name: Free gateway, charges_tenants: false}
request: {model_id: stabilityai/stable-diffusion-3.5-large, runner_id: local-sd, purpose: commercial_product,
          date: 2026-11-26, max_alternatives: 0}
expect: {decision: deny}
"""
    code, out, err = _run(tmp_path, text)
    assert code == 0, err
    assert "tenant newco (commercial_product): deny" in out
    assert "operator operator (commercial_product)" in out


def test_unmet_expectation_exits_3(tmp_path: Path) -> None:
    code, _, err = _run(tmp_path, GOOD + "expect: {decision: deny}\n")
    assert code == 3
    assert "expected deny, got allow_with_obligations" in err


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            GOOD.replace("purpose: commercial_product", "purpose: world_domination"),
            "request.purpose: Invalid enum value 'world_domination'",
        ),
        (GOOD + "colour: blue\n", "scenario: Object contains unknown field `colour`"),
        (GOOD.replace("deployment.yaml", "missing.yaml"), "missing.yaml: file: cannot be read"),
        (
            GOOD.replace("tenant_id: acme", "tenant_id: nobody"),
            "request.tenant_id: tenant 'nobody' is not in the catalog",
        ),
        (
            GOOD.replace("runner_id: local-sd", "runner_id: nope"),
            "request.runner_id: runner 'nope' is not in the catalog",
        ),
        (GOOD + "tenant: {id: acme, name: Again}\n", "(tenant): tenants acme: duplicate id 'acme'"),
        (
            GOOD.replace(
                "catalogs: [deployment.yaml]",
                "catalogs: [deployment.yaml]\ncatalog:\n"
                "  agreements: [{id: a1, holder: acme, licensor: x, covers: {}, purposes: [personal],"
                " valid_from: 2026-13-01}]",
            ),
            "not valid YAML: month must be in 1..12",
        ),
        ("request: [1, 2]\n", "Expected `object`"),
        ("request: [1, 2\n", "not valid YAML"),
    ],
)
def test_invalid_scenarios_get_precise_errors(tmp_path: Path, text: str, message: str) -> None:
    code, out, err = _run(tmp_path, text)
    assert code == 2
    assert out == ""
    assert message in err, err
    assert err.startswith("error: ")
