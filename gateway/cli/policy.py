"""`clearance policy evaluate SCENARIO.yaml [--json]`: run the policy engine on a scenario and
print the decision with the clauses behind it (see docs/policy.md and gateway.cli.policy_scenario).

Exit status: 0 evaluated (whatever the decision), 2 invalid scenario, 3 the decision differs
from the scenario's `expect`.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click
import msgspec

from gateway.cli.policy_scenario import ScenarioError, load_scenario
from registry.policy import CatalogSnapshot, PolicyDecision, evaluate

_VIA = {
    "own": "own license",
    "base": "inherited from base {source}",
    "component": "bundled component {source}",
    "creator": "creator permissions",
    "service_terms": "service terms of runner {source}",
}


@click.group()
def policy() -> None:
    """The license policy engine."""


@policy.command("evaluate")
@click.argument("scenario", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def evaluate_command(scenario: Path, as_json: bool) -> None:
    """Evaluate the request of SCENARIO against the built-in catalog plus its entries."""
    try:
        loaded = load_scenario(scenario, today=dt.datetime.now(dt.UTC).date())
    except ScenarioError as exc:
        for problem in exc.problems:
            click.echo(f"error: {problem}", err=True)
        raise SystemExit(2) from exc
    decision = evaluate(loaded.request, CatalogSnapshot.build(loaded.catalog))
    if as_json:
        click.echo(msgspec.json.format(msgspec.json.encode(decision), indent=2).decode())
    else:
        click.echo(render_decision(decision))
    if loaded.expect is not None and decision.decision is not loaded.expect:
        click.echo(f"error: expected {loaded.expect.value}, got {decision.decision.value}", err=True)
        raise SystemExit(3)


def render_decision(decision: PolicyDecision) -> str:
    """The decision as a person reads it: outcome, parties, reasons, obligations, licenses."""
    lines = [f"decision: {decision.decision.value}"]
    lines.append(f"  runner: {decision.runner_id or '(none)'}")
    lines.append(f"  decision id: {decision.decision_id}")
    if decision.errors:
        lines.append("errors:")
        lines.extend(f"  - {error}" for error in decision.errors)
    if decision.parties:
        lines.append("parties:")
        for verdict in decision.parties:
            who = f"{verdict.party.value} {verdict.holder}"
            lines.append(f"  {who} ({verdict.purpose.value}): {verdict.decision.value}")
    if decision.reasons and not decision.errors:
        lines.append("reasons:")
        for reason in decision.reasons:
            source = f"{reason.license} {reason.clause}" if reason.license else reason.clause
            lines.append(f"  {reason.effect.value:<6} {reason.party.value:<8} {source}")
            lines.append(f"         {reason.message}")
            if reason.agreements:
                lines.append(f"         agreements: {', '.join(reason.agreements)}")
    if decision.obligations:
        lines.append("obligations:")
        for obligation in decision.obligations:
            origin = f"agreement {obligation.agreement}" if obligation.agreement else obligation.license
            detail = obligation.text or obligation.url or ""
            lines.append(
                f"  {obligation.party.value:<8} {obligation.kind.value} ({origin}, {obligation.clause})"
            )
            if detail:
                lines.append(f"           {' '.join(detail.split())}")
    if decision.agreements_relied_on:
        lines.append(f"agreements relied on: {', '.join(decision.agreements_relied_on)}")
    if decision.effective_licenses:
        lines.append("effective licenses:")
        for applied in decision.effective_licenses:
            why = _VIA[applied.via.value].format(source=applied.source)
            note = (
                " (superseded by the runner's service terms, use restrictions still bind)"
                if applied.superseded
                else ""
            )
            lines.append(f"  {applied.license} on {applied.artifact}: {why}{note}")
    if decision.alternatives:
        lines.append("alternatives:")
        for alt in decision.alternatives:
            stack = " + ".join((alt.model_id, *alt.adapter_ids))
            price = f", USD {alt.price_per_image_usd:g}/image" if alt.price_per_image_usd is not None else ""
            lines.append(
                f"  {stack} on {alt.runner_id or '(no runner)'}: {alt.decision.value}"
                f" ({alt.obligations} obligations{price})"
            )
    return "\n".join(lines)
