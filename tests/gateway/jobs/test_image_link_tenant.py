"""A signed image link (`response_format=url`) stops working when its tenant is retired, as the
tenant's tokens do; until then it needs no credentials."""

from __future__ import annotations

from pathlib import Path

from tests.gateway.jobs.conftest import HOBBY, STUDIO, TINY_SD, JobsWorld, open_gateway


async def test_a_retired_tenants_image_links_stop_working(jobs_world: JobsWorld, tmp_path: Path) -> None:
    async with open_gateway(jobs_world, tmp_path) as gateway:
        headers = {**await gateway.headers(STUDIO), "Clearance-Purpose": "commercial_product"}
        body = {"model": TINY_SD, "prompt": "a red bicycle", "size": "32x32", "response_format": "url"}
        answer = await gateway.http.post("/v1/images/generations", json=body, headers=headers)
        assert answer.status_code == 200, answer.text
        link = answer.json()["data"][0]["url"]
        fetched = await gateway.http.get(link)  # no credentials
        assert (fetched.status_code, fetched.content[:4]) == (200, b"\x89PNG")

        admin = await gateway.headers(HOBBY, scopes="admin")  # an operator client of another tenant
        retired = await gateway.http.delete(f"/admin/tenants/{STUDIO}", headers=admin)
        assert retired.json()["retired"] is True, retired.text
        refused = await gateway.http.get(link)
    assert refused.status_code == 404
    assert refused.headers["content-type"].startswith("application/problem+json")
