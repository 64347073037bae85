"""Deterministic decision ids: the same request on the same catalog gets the same id, so a
replayed evaluation can be matched to its audit entry."""

from __future__ import annotations

import hashlib
import uuid

import msgspec

from registry.policy.request import PolicyRequest

DECISION_NAMESPACE = uuid.UUID("6f1c3a0e-8c1d-5b7e-9a35-2f0d4c8e7b10")
_ENCODE = msgspec.json.Encoder(order="deterministic").encode


def canonical_request(request: PolicyRequest) -> bytes:
    """JSON of the request with set-like fields sorted (adapter order is kept: it is meaningful)."""
    regions = request.end_user_regions
    if regions is not None and len(regions) > 1:
        request = msgspec.structs.replace(request, end_user_regions=tuple(sorted(set(regions))))
    return _ENCODE(request)


def derive_decision_id(request: PolicyRequest, snapshot_version: str, runner_id: str | None) -> str:
    """uuid5 (RFC 9562) over the snapshot version, the chosen runner and the canonical request."""
    digest = hashlib.sha1(  # noqa: S324 - uuid5 is defined on SHA-1; not a security use
        DECISION_NAMESPACE.bytes
        + snapshot_version.encode()
        + b"\x00"
        + (runner_id or "").encode()
        + b"\x00"
        + canonical_request(request)
    ).digest()
    return _uuid5_text(digest)


def _uuid5_text(digest: bytes) -> str:
    """`str(uuid.UUID(bytes=digest[:16], version=5))` without building a UUID object."""
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x50
    raw[8] = (raw[8] & 0x3F) | 0x80
    text = raw.hex()
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"
