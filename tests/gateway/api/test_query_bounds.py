"""Query values at the edge of the calendar answer a precise 400 naming the parameter; each of
these answered 500 before (the UTC form of the instant, or the end of the month, is not a date)."""

from __future__ import annotations

import pytest

from tests.gateway.api.conftest import Api

_READ_ALL = "models:read jobs:read audit:read"


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/v1/audit", {"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ("/v1/audit", {"until": "9999-12-31T23:59:59-23:00"}, "until"),
        ("/admin/audit", {"until": "0001-01-01T00:00:00+05:00"}, "until"),
        ("/admin/audit/export", {"since": "9999-12-31T23:59:59-23:00"}, "since"),
        ("/v1/jobs", {"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ("/v1/jobs", {"since": "2026-01-01T00:00:00"}, "since"),  # no zone: not an instant
        ("/admin/reports/usage", {"month": "9999-12"}, "month"),
    ],
)
async def test_an_instant_or_month_beyond_the_calendar_answers_400_naming_it(
    api: Api, path: str, params: dict[str, str], named: str
) -> None:
    scopes = "admin" if path.startswith("/admin") else _READ_ALL
    response = await api.call("GET", path, scopes=scopes, params=params)
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"].startswith(f"{named}: ")


async def test_the_last_instants_that_have_a_utc_form_are_accepted(api: Api) -> None:
    response = await api.call(
        "GET", "/v1/audit", scopes=_READ_ALL, params={"since": "0001-01-01T05:00:00+05:00"}
    )
    assert response.status_code == 200, response.text
    usage = await api.call("GET", "/admin/reports/usage", scopes="admin", params={"month": "9999-11"})
    assert usage.status_code == 200, usage.text
