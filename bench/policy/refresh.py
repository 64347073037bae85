"""What a server's periodic catalog refresh costs: `python -m bench.policy.refresh`.

Loads the policy benchmark's catalog (10,000 artifacts, 100,000 agreements, 10,000 tenants) into
a fresh SQLite database under `tempfile`'s directory, then times the first read and snapshot
build of a `CatalogCache` and its refreshes while nothing changes (each reads the catalog's
revision only), and one refresh after a change (it reads the whole catalog again); then an
admin write of one tenant through `CatalogAdmin` as the admin API makes it (from the cache's
catalog, handing the cache what it committed) and as the CLI makes it (no cache: one whole read).
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import time

import msgspec

from bench.policy import generate_catalog
from gateway.admin.actor import Actor
from gateway.admin.catalog_service import CatalogAdmin
from gateway.catalog.cache import CatalogCache
from registry.catalog.entries import Catalog
from registry.catalog.store import load_catalog, read_catalog
from registry.db import migrate
from registry.db.engine import create_engine, session_factory


async def _run(refreshes: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{directory}/catalog.db"
        migrate.upgrade(url)
        engine = create_engine(url)
        try:
            started = time.perf_counter()
            async with session_factory(engine)() as session:
                await load_catalog(session, generate_catalog())
                await session.commit()
            print(f"catalog loaded in {time.perf_counter() - started:.1f} s")
            cache = CatalogCache(lambda: session_factory(engine), refresh_seconds=0)
            started = time.perf_counter()
            await cache.current()
            print(f"first read and snapshot build: {time.perf_counter() - started:.2f} s")
            times = []
            for _ in range(refreshes):
                started = time.perf_counter()
                await cache._reload()
                times.append(time.perf_counter() - started)
            print(
                f"refresh, nothing changed: median {statistics.median(times) * 1000:.2f} ms of {refreshes} "
                f"(whole-catalog reads so far: {cache.reads})"
            )
            async with session_factory(engine)() as session:
                tenant = (await read_catalog(session)).tenants[0]
                renamed = Catalog(tenants=(msgspec.structs.replace(tenant, name="Renamed"),))
                await load_catalog(session, renamed)
                await session.commit()
            started = time.perf_counter()
            await cache._reload()
            print(
                f"refresh after a change: {time.perf_counter() - started:.2f} s "
                f"(whole-catalog reads: {cache.reads}, snapshots built: {cache.builds})"
            )
            reads = cache.reads
            served, alone = [], []
            for i in range(3):
                async with session_factory(engine)() as session:
                    admin = CatalogAdmin(session, Actor(subject="bench"), cache.adopt, cache.known)
                    started = time.perf_counter()
                    await admin.change("tenants", tenant.id, "rename", name=f"Renamed {i}")
                    served.append(time.perf_counter() - started)
            for i in range(2):
                async with session_factory(engine)() as session:
                    started = time.perf_counter()
                    await CatalogAdmin(session, Actor(subject="bench")).change(
                        "tenants", tenant.id, "rename", name=f"Renamed again {i}"
                    )
                    alone.append(time.perf_counter() - started)
            print(
                f"admin write of one tenant, as the admin API makes it (with the cache): median "
                f"{statistics.median(served) * 1000:.0f} ms of {len(served)}, snapshot rebuild included "
                f"(whole-catalog reads: {cache.reads - reads}); as the CLI makes it (one whole read): "
                f"median {statistics.median(alone):.2f} s of {len(alone)}"
            )
        finally:
            await engine.dispose()


def main() -> None:
    asyncio.run(_run(20))


if __name__ == "__main__":
    main()
