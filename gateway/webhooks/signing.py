"""Standard Webhooks signatures: `v1,` + base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).

https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence

from registry.delivery.webhook_secrets import secret_key_bytes


def sign_webhook(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    key = secret_key_bytes(secret)
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The headers of one delivery, signed with each of `secrets` (the current one, and the
    previous one during a rotation's grace: space-separated, as the specification allows, so a
    receiver holding either verifies it)."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign_webhook(s, message_id, timestamp, body) for s in secrets),
        "Content-Type": "application/json",
    }
