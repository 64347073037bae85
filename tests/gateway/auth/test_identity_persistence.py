"""Identity persistence on real SQLite and real PostgreSQL: clients, key rotation, revocations."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.oauth.client_registry import ClientRegistrationError, find_clients, register_client
from gateway.oauth.client_secrets import ClientSecretHasher
from gateway.oauth.key_sealing import KeySealer, KeyUnsealError
from gateway.oauth.keyring import SigningKeyring
from gateway.oauth.revocation import RevocationList, record_revocation
from gateway.oauth.signing_key_store import ensure_active_key, load_signing_keys, rotate_signing_key
from registry.db.engine import create_engine, session_factory
from tests.gateway.auth.conftest import add_tenants

PEPPER = b"p" * 32


async def test_clients_keys_and_revocations(migrated_url: str) -> None:
    await add_tenants(migrated_url, "acme")
    engine = create_engine(migrated_url)
    sessions = session_factory(engine)
    hasher, sealer = ClientSecretHasher(PEPPER), KeySealer(PEPPER)
    now = dt.datetime.now(dt.UTC)
    try:
        async with sessions() as session:
            client = await register_client(
                session, hasher, tenant_id="acme", scopes="models:read, jobs:read", now=now
            )
            found = await find_clients(session, [client.client_id, "cl_missing"])
            record = found[client.client_id]
            assert list(found) == [client.client_id]
            assert record.scopes == ["models:read", "jobs:read"]
            assert client.client_secret is not None
            assert record.secret_hash != client.client_secret
            assert hasher.matches(client.client_secret, record.secret_hash)
            assert not ClientSecretHasher(b"q" * 32).matches(client.client_secret, record.secret_hash)
            with pytest.raises(ClientRegistrationError, match="unknown scope"):
                await register_client(session, hasher, tenant_id="acme", scopes="root", now=now)

        async with sessions() as session:
            await ensure_active_key(session, sealer, now)
            await ensure_active_key(session, sealer, now)
            first = await load_signing_keys(session, sealer, now)
            assert len(first) == 1
            new_kid = await rotate_signing_key(
                session, sealer, now + dt.timedelta(seconds=1), dt.timedelta(minutes=15)
            )
            keys = await load_signing_keys(session, sealer, now + dt.timedelta(seconds=2))
            keyring = SigningKeyring()
            keyring.replace(keys)
            assert keyring.active().kid == new_kid
            assert {key.kid for key in keys} == {new_kid, first[0].kid}
            later = await load_signing_keys(session, sealer, now + dt.timedelta(minutes=16))
            assert [key.kid for key in later] == [new_kid]
            with pytest.raises(KeyUnsealError):
                await load_signing_keys(session, KeySealer(b"x" * 32), now)

        async with sessions() as session:
            expires = now + dt.timedelta(minutes=5)
            await record_revocation(
                session, jti="j1", client_id=client.client_id, expires_at=expires, now=now
            )
            await record_revocation(
                session, jti="j1", client_id=client.client_id, expires_at=expires, now=now
            )
            revocations = RevocationList()
            await revocations.sync(session, now)
            assert revocations.is_revoked("j1")
            assert not revocations.is_revoked("j2")
            revocations.prune((expires + dt.timedelta(seconds=1)).timestamp())
            assert not revocations.is_revoked("j1")
    finally:
        await engine.dispose()
