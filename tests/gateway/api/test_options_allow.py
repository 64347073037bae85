"""`OPTIONS` names every method a path serves (RFC 9110 §9.3.7), as the 405 answer does, also
where the path's handlers come from more than one controller or router."""

from __future__ import annotations

from collections import defaultdict

from tests.gateway.api.conftest import Api
from tests.gateway.api.routes import fill, operations


async def test_options_names_every_method_of_the_path(api: Api) -> None:
    by_path: defaultdict[str, set[str]] = defaultdict(set)
    for method, path in operations(api.app, "/"):
        by_path[path].add(method)
    assert len(by_path) > 40
    headers = await api.admin()
    wrong = {}
    for path, methods in sorted(by_path.items()):
        answer = await api.http.options(fill(path), headers=headers)
        assert answer.status_code == 204, (path, answer.text)
        allowed = set(answer.headers["allow"].split(", "))
        if allowed != methods | {"OPTIONS"}:
            wrong[path] = (sorted(allowed), sorted(methods))
    assert wrong == {}


async def test_options_and_405_agree(api: Api) -> None:
    headers = await api.admin()
    for path in ("/admin/operator", "/admin/artifacts", "/admin/artifacts/x", "/v1/jobs/x"):
        options = await api.http.options(path, headers=headers)
        refused = await api.http.request("TRACE", path, headers=headers)
        assert refused.status_code == 405
        assert set(options.headers["allow"].split(", ")) == set(refused.headers["allow"].split(", ")), path
