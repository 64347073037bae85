"""Every identity table, for `registry.db.models`."""

from __future__ import annotations

from registry.identity.clients import OAuthClientRecord
from registry.identity.revoked_tokens import RevokedTokenRecord
from registry.identity.signing_keys import SigningKeyRecord
from registry.identity.used_client_assertions import UsedClientAssertionRecord

__all__ = ["OAuthClientRecord", "RevokedTokenRecord", "SigningKeyRecord", "UsedClientAssertionRecord"]
