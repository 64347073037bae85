"""Client secrets: 256 random bits, shown once, stored as a peppered HMAC-SHA256.

Why HMAC and not scrypt: a slow hash protects low-entropy passwords; a 256-bit random secret
cannot be brute-forced whatever the hash, so slowness would only make the token endpoint a CPU
sink under attack. The pepper (outside the database) means a dump alone cannot verify guesses.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

SECRET_BYTES = 32


def generate_client_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def generate_client_id() -> str:
    return f"cl_{secrets.token_urlsafe(16)}"


class ClientSecretHasher:
    def __init__(self, pepper: bytes) -> None:
        self._pepper = pepper

    def hash(self, secret: str) -> str:
        return hmac.new(self._pepper, secret.encode(), hashlib.sha256).hexdigest()

    def matches(self, secret: str, stored_hash: str | None) -> bool:
        """Constant-time; a client without a secret never matches."""
        candidate = self.hash(secret)
        if stored_hash is None:
            hmac.compare_digest(candidate, candidate)
            return False
        return hmac.compare_digest(candidate, stored_hash)
