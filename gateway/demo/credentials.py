"""The demo tenants' OAuth clients and `demo-credentials.json`.

Secrets are stored only as hashes, so a second run cannot show the first run's secrets: it
disables the demo clients it made before (audited, like any admin change) and registers new
ones, then rewrites the file. The file is readable by its owner only.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from gateway.admin.actor import Actor
from gateway.admin.clients import ClientAdmin
from gateway.oauth.client_secrets import ClientSecretHasher
from gateway.oauth.pepper import load_pepper
from gateway.settings import Settings
from registry.db.engine import create_engine, session_factory

CREDENTIALS_FILE = "demo-credentials.json"
DEMO_CLIENT_NAME = "clearance demo"
DEMO_SCOPES = "models:read jobs:write jobs:read"


@dataclass(frozen=True)
class DemoClient:
    tenant: str
    client_id: str
    client_secret: str
    scopes: list[str]


async def rotate_demo_clients(settings: Settings, tenants: tuple[str, ...]) -> list[DemoClient]:
    """Disable earlier demo clients of `tenants` and register one new client for each."""
    hasher = ClientSecretHasher(load_pepper(settings))
    engine = create_engine(settings.database_url)
    created: list[DemoClient] = []
    try:
        async with session_factory(engine)() as session:
            admin = ClientAdmin(session, Actor.cli(), hasher)
            for tenant in tenants:
                for earlier in await admin.list(tenant):
                    if earlier.name == DEMO_CLIENT_NAME and not earlier.disabled:
                        await admin.disable(earlier.client_id)
                made = await admin.create(tenant_id=tenant, scopes=DEMO_SCOPES, name=DEMO_CLIENT_NAME)
                assert made.client_secret is not None
                created.append(
                    DemoClient(
                        tenant=tenant,
                        client_id=made.client.client_id,
                        client_secret=made.client_secret,
                        scopes=list(made.client.scopes),
                    )
                )
    finally:
        await engine.dispose()
    return created


def write_credentials(data_dir: Path, base_url: str, clients: list[DemoClient]) -> Path:
    path = data_dir / CREDENTIALS_FILE
    document = {
        "base_url": base_url,
        "token_url": f"{base_url}/oauth/token",
        "clients": [asdict(c) for c in clients],
    }
    partial = path.with_name(path.name + ".partial")
    descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
    partial.replace(path)
    return path
