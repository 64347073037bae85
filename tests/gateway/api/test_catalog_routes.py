"""GET /v1/models, /v1/models/{id}, /v1/licenses/{key}: the catalog as each tenant sees it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from gateway.admin.actor import Actor
from gateway.admin.catalog_service import CatalogAdmin
from gateway.catalog.cache import CatalogCache
from gateway.catalog.dependencies import CATALOG_CACHE_STATE_KEY
from registry.catalog.entries import Catalog
from registry.catalog.store import read_catalog
from registry.db.engine import create_engine, session_factory
from registry.policy import catalog_digest
from tests.gateway.api.conftest import FLUX2_DEV, GLOBEX, SCHNELL, TURBO_LORA, Api, open_api, today
from tests.gateway.auth.conftest import make_settings


def _by_id(listing: dict[str, Any]) -> dict[str, dict[str, Any]]:
    assert listing["object"] == "list"  # OpenAI's model list shape
    return {model["id"]: model for model in listing["data"]}


async def _held(database_url: str) -> Catalog:
    """The catalog the database holds, read as another process would."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return await read_catalog(session)
    finally:
        await engine.dispose()


async def _until_unlisted(api: Api, model_id: str) -> None:
    """Wait for the server's snapshot to follow a change made elsewhere (the state sync)."""
    for _ in range(100):
        if model_id not in _by_id((await api.call("GET", "/v1/models")).json()):
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"the retired model {model_id} is still listed")


async def test_models_carry_effective_licenses_and_tenant_purposes(api: Api) -> None:
    acme = await api.call("GET", "/v1/models")
    globex = await api.call("GET", "/v1/models", tenant=GLOBEX)
    assert acme.status_code == globex.status_code == 200
    mine, theirs = _by_id(acme.json()), _by_id(globex.json())
    flux = mine[FLUX2_DEV]
    assert flux["license"] == "flux-dev-ncl@2.0"
    assert flux["effective_licenses"][0]["license"]["grants"]["commercial_product"] == "requires_agreement"
    assert flux["as_of"] == today().isoformat()
    assert "op-gpu" in flux["runners"]
    # Same model, different tenants: only globex holds a commercial agreement for FLUX [dev].
    assert "commercial_product" not in flux["usable_for"]
    assert "commercial_internal" in flux["usable_for"]  # acme's own agreement
    assert "commercial_product" in theirs[FLUX2_DEV]["usable_for"]
    assert "commercial_product" in mine[SCHNELL]["usable_for"]  # Apache-2.0
    # The Turbo LoRA inherits the base model's license.
    lora = mine[TURBO_LORA]
    assert {e["via"] for e in lora["effective_licenses"]} >= {"base"}
    assert any(e["license"]["ref"] == "flux-dev-ncl@2.0" for e in lora["effective_licenses"])
    assert "commercial_product" not in lora["usable_for"]


async def test_one_model_by_its_hugging_face_id(api: Api) -> None:
    response = await api.call("GET", f"/v1/models/{FLUX2_DEV}")
    assert response.status_code == 200
    assert response.json()["id"] == FLUX2_DEV
    missing = await api.call("GET", "/v1/models/nobody/nothing")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_licenses_by_key_or_key_at_version(api: Api) -> None:
    every = await api.call("GET", "/v1/licenses/flux-dev-ncl")
    assert every.status_code == 200
    versions = {doc["version"] for doc in every.json()["versions"]}
    assert "2.0" in versions
    assert len(versions) >= 2
    one = await api.call("GET", "/v1/licenses/flux-dev-ncl@2.0")
    assert [doc["version"] for doc in one.json()["versions"]] == ["2.0"]
    assert one.json()["versions"][0]["terms"]["grants"]
    assert (await api.call("GET", "/v1/licenses/no-such-license")).status_code == 404


async def test_the_snapshot_is_built_once_and_rebuilt_after_an_admin_write(api: Api) -> None:
    for _ in range(5):
        assert (await api.call("GET", "/v1/models")).status_code == 200
        assert (
            await api.call("POST", "/v1/policy/evaluate", json={"model_id": SCHNELL, "purpose": "personal"})
        ).status_code == 200
    cache = api.app.state[CATALOG_CACHE_STATE_KEY]
    assert isinstance(cache, CatalogCache)
    assert cache.builds == 1
    retired = await api.call("DELETE", f"/admin/artifacts/{SCHNELL}", scopes="admin")
    assert retired.status_code == 200, retired.text
    models = _by_id((await api.call("GET", "/v1/models")).json())
    assert SCHNELL not in models
    assert cache.builds == 2


async def test_changes_made_by_another_process_are_picked_up(tmp_path: Path, sqlite_api_db: str) -> None:
    """The CLI (or another server) writes to the database; this server's snapshot follows within
    the state sync interval, while requests keep being answered from the old one."""
    settings = make_settings(tmp_path, sqlite_api_db, state_sync_seconds=0.1)
    async for api in open_api(settings):
        assert SCHNELL in _by_id((await api.call("GET", "/v1/models")).json())
        engine = create_engine(sqlite_api_db)
        try:
            async with session_factory(engine)() as session:
                await CatalogAdmin(session, Actor(subject="cli:test")).change(
                    "artifacts", SCHNELL, "retire", retired=True
                )
        finally:
            await engine.dispose()
        await _until_unlisted(api, SCHNELL)


async def test_a_refresh_reads_the_whole_catalog_only_when_it_changed(
    tmp_path: Path, sqlite_api_db: str
) -> None:
    """Every write that changes an entry counts in `catalog_revision`; a periodic refresh that
    finds the count unchanged reads nothing more (the whole catalog took about 4 s to read at
    100,000 agreements), and one that finds it changed reads and rebuilds."""
    settings = make_settings(tmp_path, sqlite_api_db, state_sync_seconds=0.05)
    async for api in open_api(settings):
        cache = api.app.state[CATALOG_CACHE_STATE_KEY]
        assert isinstance(cache, CatalogCache)
        for _ in range(10):  # refreshes due every 0.05 s, each started by a request
            assert (await api.call("GET", "/v1/models")).status_code == 200
            await asyncio.sleep(0.08)
        assert (cache.reads, cache.builds) == (1, 1)
        engine = create_engine(sqlite_api_db)
        try:
            async with session_factory(engine)() as session:  # another process writes
                admin = CatalogAdmin(session, Actor(subject="cli:test"))
                await admin.change("artifacts", SCHNELL, "retire", retired=True)
            async with session_factory(engine)() as session:  # the same again: nothing changes
                await CatalogAdmin(session, Actor(subject="cli:test")).change(
                    "artifacts", SCHNELL, "retire", retired=True
                )
        finally:
            await engine.dispose()
        await _until_unlisted(api, SCHNELL)
        for _ in range(10):
            await api.call("GET", "/v1/models")
            await asyncio.sleep(0.08)
        assert (cache.reads, cache.builds) == (2, 2)


async def test_an_admin_write_serves_what_it_committed_without_reading_the_catalog_back(
    tmp_path: Path, sqlite_api_db: str
) -> None:
    """A write through the admin API starts from the catalog the server holds and hands the
    server what it committed: no whole read (seconds at 100,000 agreements), and the writer's
    next request sees the change."""
    settings = make_settings(tmp_path, sqlite_api_db, state_sync_seconds=3600)
    async for api in open_api(settings):
        cache = api.app.state[CATALOG_CACHE_STATE_KEY]
        assert isinstance(cache, CatalogCache)
        headers = await api.admin()
        assert (await api.call("GET", "/v1/models")).status_code == 200
        reads = cache.reads
        created = await api.http.post(
            "/admin/tenants", headers=headers, json={"id": "initech", "name": "Initech"}
        )
        assert created.status_code == 201, created.text
        renamed = await api.http.put(
            "/admin/tenants/initech", headers=headers, json={**created.json(), "name": "Initech GmbH"}
        )
        assert renamed.status_code == 200, renamed.text
        retired = await api.http.delete(f"/admin/artifacts/{SCHNELL}", headers=headers)
        assert retired.status_code == 200, retired.text
        assert SCHNELL not in _by_id((await api.call("GET", "/v1/models")).json())
        listed = await api.http.get("/admin/tenants", headers=headers)
        assert {t["id"]: t["name"] for t in listed.json()}["initech"] == "Initech GmbH"
        assert cache.reads == reads
        held = await _held(sqlite_api_db)
        assert (await cache.current()).digest == catalog_digest(held)  # what it serves is stored


async def test_concurrent_admin_writes_leave_the_server_serving_what_the_database_holds(
    any_db_api: Api, any_api_db: str
) -> None:
    api = any_db_api
    headers = await api.admin()
    answers = await asyncio.gather(
        *(
            api.http.post("/admin/tenants", headers=headers, json={"id": f"tenant-{i}", "name": f"T{i}"})
            for i in range(8)
        )
    )
    assert [a.status_code for a in answers] == [201] * 8, [a.text for a in answers]
    renamed = await asyncio.gather(
        *(
            api.http.put("/admin/tenants/tenant-3", headers=headers, json={"id": "tenant-3", "name": name})
            for name in ("First", "Second")
        ),
        api.http.delete(f"/admin/artifacts/{SCHNELL}", headers=headers),
    )
    assert [a.status_code for a in renamed] == [200] * 3, [a.text for a in renamed]
    cache = api.app.state[CATALOG_CACHE_STATE_KEY]
    held = await _held(any_api_db)
    assert {f"tenant-{i}" for i in range(8)} <= {t.id for t in held.tenants}
    assert (await cache.current()).digest == catalog_digest(held)


async def test_admin_writes_through_two_servers_each_start_from_what_the_database_holds(
    tmp_path: Path, any_api_db: str
) -> None:
    """A server whose catalog is behind the database (another server wrote since) reads it
    whole before writing, so neither write undoes the other, and both servers end up serving
    what the database holds."""
    first_settings = make_settings(tmp_path / "a", any_api_db, state_sync_seconds=3600)
    second_settings = make_settings(tmp_path / "b", any_api_db, state_sync_seconds=3600)
    async for first in open_api(first_settings):
        async for second in open_api(second_settings):
            servers = (first, second)
            for api in servers:  # each reads the catalog once, then never refreshes
                assert (await api.call("GET", "/v1/models")).status_code == 200
            created = await first.http.post(
                "/admin/tenants", headers=await first.admin(), json={"id": "initech", "name": "Initech"}
            )
            assert created.status_code == 201, created.text
            # the second's catalog lacks the tenant: it must not take it for missing
            again = await second.http.post(
                "/admin/tenants", headers=await second.admin(), json={"id": "initech", "name": "Initech 2"}
            )
            assert again.status_code == 409, again.text
            renamed = await second.http.put(
                "/admin/tenants/initech", headers=await second.admin(), json={**created.json(), "name": "B"}
            )
            assert renamed.status_code == 200, renamed.text
            retired = await first.http.delete(f"/admin/artifacts/{SCHNELL}", headers=await first.admin())
            assert retired.status_code == 200, retired.text
            held = await _held(any_api_db)
            assert {t.id: t.name for t in held.tenants}["initech"] == "B"  # the first's retirement kept it
            assert next(a for a in held.artifacts if a.id == SCHNELL).retired
            # each server serves what the database held after its own last write; a refresh
            # brings the second up to the first's last one
            first_cache = first.app.state[CATALOG_CACHE_STATE_KEY]
            assert first.http.blocking_portal.call(first_cache.current).digest == catalog_digest(held)
            second_cache = second.app.state[CATALOG_CACHE_STATE_KEY]
            second_cache.invalidate()  # as a refresh that found a newer revision
            assert second.http.blocking_portal.call(second_cache.current).digest == catalog_digest(held)
