"""What the benchmark loads. Add an entry per endpoint worth measuring (e.g. `GET /v1/models`,
`POST /v1/policy/evaluate` once they exist); each is compared with the bare constant."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Target:
    name: str
    method: str
    path: str
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    authenticated: bool = True
    """Send the benchmark client's bearer token."""
    scopes: str = "models:read"


BARE = Target(name="bare constant", method="GET", path="/constant", authenticated=False)

GATEWAY_TARGETS = [
    Target(name="GET /health/live (no auth)", method="GET", path="/health/live", authenticated=False),
    Target(name="GET /v1/me (bearer token + scope guard)", method="GET", path="/v1/me"),
    Target(name="GET /v1/models (token + catalog + policy)", method="GET", path="/v1/models"),
    Target(
        name="POST /v1/policy/evaluate (token + policy)",
        method="POST",
        path="/v1/policy/evaluate",
        body=b'{"model_id": "black-forest-labs/FLUX.2-dev", "adapter_ids": ["fal/FLUX.2-dev-Turbo"],'
        b' "purpose": "commercial_product"}',
        headers={"Content-Type": "application/json"},
    ),
]
