"""The Ed25519 key that signs checkpoints: kept in the data directory, created on first use.

The private key never leaves `<data_dir>/keys/audit-ed25519.pem` (mode 0600); the public key is
published next to it (`audit-ed25519.pub.pem`) and by `public_key_pem()` / `public_key_jwk()`.
The key id is the first 16 bytes of SHA-256 over the raw public key, in hex, so a verifier can
tell which key a checkpoint claims without trusting anything the checkpoint says.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from registry.audit.errors import SigningKeyError

PRIVATE_KEY_FILE = Path("keys") / "audit-ed25519.pem"
PUBLIC_KEY_FILE = Path("keys") / "audit-ed25519.pub.pem"


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:32]


class CheckpointVerifier:
    """A trusted public key: checks signatures made by the matching `CheckpointSigner`."""

    def __init__(self, public_key: Ed25519PublicKey) -> None:
        self.public_key = public_key
        self.key_id = key_id_of(public_key)

    def is_valid(self, message: bytes, signature: bytes) -> bool:
        try:
            self.public_key.verify(signature, message)
        except InvalidSignature:
            return False
        return True

    def public_key_pem(self) -> str:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode()

    def public_key_jwk(self) -> dict[str, str]:
        """RFC 8037 OKP JWK, for publishing next to the gateway's other keys."""
        raw = self.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return {"kty": "OKP", "crv": "Ed25519", "x": x, "kid": self.key_id, "use": "sig", "alg": "EdDSA"}


class CheckpointSigner(CheckpointVerifier):
    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        super().__init__(private_key.public_key())
        self._private_key = private_key

    def sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)

    @property
    def verifier(self) -> CheckpointVerifier:
        return CheckpointVerifier(self.public_key)


def load_or_create_signing_key(data_dir: Path) -> CheckpointSigner:
    """The data directory's signing key, generated (and its public key published) when missing."""
    path = data_dir / PRIVATE_KEY_FILE
    if not path.exists():
        _create_private_key(path)
    signer = CheckpointSigner(_read_private_key(path))
    public_path = data_dir / PUBLIC_KEY_FILE
    if not public_path.exists():
        public_path.write_text(signer.public_key_pem())
    return signer


def load_verifier(data_dir: Path) -> CheckpointVerifier:
    """The published public key of the data directory (falls back to the private key file)."""
    public_path = data_dir / PUBLIC_KEY_FILE
    if public_path.exists():
        return read_public_key(public_path)
    private_path = data_dir / PRIVATE_KEY_FILE
    if private_path.exists():
        return CheckpointVerifier(_read_private_key(private_path).public_key())
    raise SigningKeyError(f"no audit signing key in {data_dir / 'keys'}: nothing to verify signatures with")


def read_public_key(path: Path) -> CheckpointVerifier:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"{path}: not a readable PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"{path}: not an Ed25519 public key")
    return CheckpointVerifier(key)


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise SigningKeyError(f"{path}: not a readable PEM private key ({exc})") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"{path}: not an Ed25519 private key")
    return key


def _create_private_key(path: Path) -> None:
    """Written aside, then hard-linked into place: a concurrent reader never sees half a key,
    and when two processes race, the first link wins and both use that key."""
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        os.link(staging, path)
    except FileExistsError:
        pass
    finally:
        staging.unlink(missing_ok=True)
