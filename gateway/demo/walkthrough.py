"""The copy-paste commands `clearance demo` prints: tokens, then the three scenarios with curl,
the proof of the studio's image by the audit log, then the same commercial request through the
official `openai` client. The demo's test runs
exactly these lines, so what a reader pastes is what was checked."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from typing import Any

from gateway.demo.catalog import HOBBY, STUDIO
from gateway.demo.credentials import DemoClient
from gateway.jobs.tiny_catalog import TINY_FLUX2, TINY_FLUX2_TURBO

SHELL_MARK = "---8<--- shell"
PYTHON_MARK = "---8<--- python (openai client)"
END_MARK = "---8<--- end"
_PRINT_ACCESS_FIELD = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
TOKEN_VARIABLES = {HOBBY: "HOBBY_TOKEN", STUDIO: "STUDIO_TOKEN"}
PROOF_MARK = "# (proof)"
_PRINT_FIRST_IMAGE = 'python3 -c \'import json,sys; print(json.load(sys.stdin)["items"][0]["images"][0])\''


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    tenant: str
    body: dict[str, Any]
    expected_status: int


def _turbo_job(purpose: str, output_use: str) -> dict[str, Any]:
    return {
        "model": TINY_FLUX2,
        "adapters": [{"id": TINY_FLUX2_TURBO}],
        "prompt": "a lighthouse at dusk",
        "seed": 7,
        "purpose": purpose,
        "output_use": output_use,
    }


SCENARIOS = (
    Scenario(
        "a",
        "allowed: the hobbyist, personal use (FLUX [dev] NCL allows it)",
        HOBBY,
        _turbo_job("personal", "internal"),
        200,
    ),
    Scenario(
        "b",
        "denied: the hobbyist sells the images (commercial, no agreement): 403 with the "
        "clause and the alternatives",
        HOBBY,
        _turbo_job("commercial_product", "sell"),
        403,
    ),
    Scenario(
        "c",
        "served: the same request from the studio, whose BFL agreement covers it",
        STUDIO,
        _turbo_job("commercial_product", "sell"),
        200,
    ),
)


def shell_block(base_url: str, clients: list[DemoClient], audit_cli: str) -> str:
    lines = [f"CLEARANCE={base_url}"]
    for client in clients:
        credentials = shlex.quote(f"{client.client_id}:{client.client_secret}")
        lines.append(
            f"{TOKEN_VARIABLES[client.tenant]}=$(curl -s -u {credentials} -d grant_type=client_credentials "
            f'"$CLEARANCE/oauth/token" | {_PRINT_ACCESS_FIELD})'
        )
    for scenario in SCENARIOS:
        lines.append(f"# ({scenario.key}) {scenario.title}")
        lines.append(
            "curl -s -w '\\nHTTP %{http_code}\\n' \"$CLEARANCE/v1/jobs\" "
            f'-H "Authorization: Bearer ${TOKEN_VARIABLES[scenario.tenant]}" '
            "-H 'Prefer: wait=60' -H 'Content-Type: application/json' "
            f"-d {shlex.quote(json.dumps(scenario.body, separators=(',', ':')))}"
        )
    studio = f'-H "Authorization: Bearer ${TOKEN_VARIABLES[STUDIO]}"'
    lines += [
        f"{PROOF_MARK} the studio's image from (c), traced by the audit log to its job, decision, licenses",
        f'IMAGE=$(curl -s "$CLEARANCE/v1/jobs?limit=1" {studio} | {_PRINT_FIRST_IMAGE})',
        f'curl -s -o studio.png "$CLEARANCE$IMAGE" {studio}',
        f"{audit_cli} image studio.png",
        "# the studio's month: jobs, images, cost, and what its agreement's quota has left",
        f'curl -s "$CLEARANCE/v1/usage" {studio}',
    ]
    return "\n".join(lines)


def python_block(base_url: str, clients: list[DemoClient]) -> str:
    pairs = ", ".join(f"{c.tenant!r}: ({c.client_id!r}, {c.client_secret!r})" for c in clients)
    return f"""import httpx, openai

BASE = {base_url!r}
CLIENTS = {{{pairs}}}
for tenant, (client_id, secret) in CLIENTS.items():
    token = httpx.post(f"{{BASE}}/oauth/token", data={{"grant_type": "client_credentials"}},
                       auth=(client_id, secret)).json()["access_token"]
    client = openai.OpenAI(base_url=f"{{BASE}}/v1", api_key=token)
    try:
        result = client.images.generate(
            model={TINY_FLUX2!r}, prompt="a lighthouse at dusk", size="64x64",
            extra_headers={{"Clearance-Purpose": "commercial_product", "Clearance-Output-Use": "sell"}},
            extra_body={{"adapters": [{{"id": {TINY_FLUX2_TURBO!r}}}]}},
        )
        print(tenant, "served: job", result.model_extra["job_id"],
              "PNG of", len(result.data[0].b64_json), "base64 chars")
    except openai.PermissionDeniedError as exc:
        print(tenant, "denied:", exc.body["reasons"][0]["clause"],
              "| alternatives:", sorted({{a["model_id"] for a in exc.body["alternatives"]}}))"""


def render(base_url: str, clients: list[DemoClient], credentials_path: str, audit_cli: str) -> str:
    """`audit_cli`: the `clearance ... audit` command line for this demo's data (the proof)."""
    who = "\n".join(
        f"  {c.tenant:12} client_id={c.client_id}  client_secret={c.client_secret}"
        f"  scopes={' '.join(c.scopes)}"
        for c in clients
    )
    return f"""
Clearance demo on {base_url}
  tenants: {HOBBY} (individual, no agreement), {STUDIO} (company, BFL commercial agreement)
  models:  {TINY_FLUX2} (+ adapter {TINY_FLUX2_TURBO}) under flux-dev-ncl@2.0,
           tiny/sd-openrail under creativeml-openrail-pp-m@2023-07-26 (tiny random weights)
  OAuth clients (new secrets on every run; also in {credentials_path}):
{who}

Paste into a shell (python3 reads the tokens):
{SHELL_MARK}
{shell_block(base_url, clients, audit_cli)}
{PYTHON_MARK}
{python_block(base_url, clients)}
{END_MARK}
API docs: {base_url}/schema   Stop with Ctrl-C.
"""
