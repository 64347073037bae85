"""docs/api.md lists every /v1 and /admin route the app serves (from its OpenAPI schema)."""

from __future__ import annotations

import re
from pathlib import Path

from tests.gateway.api.conftest import Api
from tests.gateway.api.routes import operations

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"
OTHER_AREAS = ("/v1/jobs", "/v1/me")
"""Routes documented with their own area."""


def _documented() -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for line in DOC.read_text().splitlines():
        cells = [cell.strip() for cell in line.split("|")]
        if len(cells) < 4 or not cells[2].startswith("`/"):
            continue
        methods = [m.strip() for m in cells[1].split(",")]
        path = re.sub(r"\{([^}:]+)(:[^}]+)?\}", r"{\1}", cells[2].strip("`"))
        found.update((method, path) for method in methods)
    return found


async def test_every_route_is_documented(api: Api) -> None:
    served = {
        (method, path)
        for method, path in operations(api.app, "/v1") + operations(api.app, "/admin")
        if not path.startswith(OTHER_AREAS)
    }
    documented = _documented()
    assert served - documented == set(), "document these routes in docs/api.md"
    assert documented - served == set(), "docs/api.md lists routes the app does not serve"
