"""Encryption of signing keys at rest: AES-256-GCM under a key derived from the pepper."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"clearance signing-key sealing v1"
_NONCE_BYTES = 12


class KeyUnsealError(RuntimeError):
    """A stored signing key cannot be decrypted: the pepper changed or the row was altered."""


class KeySealer:
    def __init__(self, pepper: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(pepper)
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, kid: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plaintext, kid.encode())
        return base64.urlsafe_b64encode(sealed).decode()

    def unseal(self, sealed: str, kid: str) -> bytes:
        raw = base64.urlsafe_b64decode(sealed)
        try:
            return self._aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], kid.encode())
        except InvalidTag as exc:
            raise KeyUnsealError(f"signing key {kid}: cannot decrypt (wrong pepper?)") from exc
