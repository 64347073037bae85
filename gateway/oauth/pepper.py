"""The server pepper: a secret that never sits in the database.

It keys the client-secret HMAC and the signing-key encryption, so a stolen database dump can
neither check guessed secrets nor forge tokens. Replicas must share it
(`CLEARANCE_SECRET_PEPPER`); a single embedded server keeps a generated one in its data dir.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path

from gateway.settings import Settings

PEPPER_FILE = "secret_pepper"


class PepperError(RuntimeError):
    """The pepper file cannot be read or is too short."""


def load_pepper(settings: Settings) -> bytes:
    """The configured pepper, or the one in `data_dir/secret_pepper` (created on first use)."""
    if settings.secret_pepper:
        return settings.secret_pepper.encode()
    path = settings.data_dir / PEPPER_FILE
    if not path.exists():
        _create(path)
    raw = path.read_text().strip()
    try:
        pepper = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    except ValueError as exc:
        raise PepperError(f"{path}: not base64url") from exc
    if len(pepper) < 32:
        raise PepperError(f"{path}: pepper shorter than 32 bytes")
    return pepper


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    value = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first: use theirs
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
