"""Deterministic decision ids: the same request on the same catalog gets the same id, so a
replayed evaluation can be matched to its audit entry."""

from __future__ import annotations

import uuid
from hashlib import sha1
from typing import Any

import msgspec

from registry.policy.request import PolicyRequest

DECISION_NAMESPACE = uuid.UUID("6f1c3a0e-8c1d-5b7e-9a35-2f0d4c8e7b10")
encode_request = msgspec.json.Encoder(order="deterministic").encode
"""JSON of a request, its fields in order and dicts and sets sorted."""


def canonical_request(request: PolicyRequest) -> bytes:
    """JSON of the request with set-like fields sorted (adapter order is kept: it is meaningful)."""
    regions = request.end_user_regions
    if regions is not None and len(regions) > 1:
        request = msgspec.structs.replace(request, end_user_regions=tuple(sorted(set(regions))))
    return encode_request(request)


def derive_decision_id(request: PolicyRequest, snapshot_version: str, runner_id: str | None) -> str:
    """uuid5 (RFC 9562) over the snapshot version, the chosen runner and the canonical request.

    The definition: `evaluate` derives the same id from `decision_id_prefix` (one per decision)."""
    name = b"%s\x00%s\x00%s" % (
        snapshot_version.encode(),
        (runner_id or "").encode(),
        canonical_request(request),
    )
    return str(uuid.uuid5(DECISION_NAMESPACE, name.decode()))


def decision_id_prefix(snapshot_version: str, runner_id: str | None) -> Any:
    """SHA-1 state after what the uuid5 name of every decision on `runner_id` starts with: the
    namespace, the snapshot version and the runner id. One per version and runner, shared by
    every stack on it (`stack.StackPlan.id_prefix`): few, so they stay in the CPU's caches."""
    prefix = _PREFIXES.get((snapshot_version, runner_id))
    if prefix is None:
        version, runner = snapshot_version.encode(), (runner_id or "").encode()
        # uuid5 is defined on SHA-1; not a security use
        prefix = sha1(b"%s%s\x00%s\x00" % (DECISION_NAMESPACE.bytes, version, runner))  # noqa: S324
        if len(_PREFIXES) >= 4_096:
            _PREFIXES.clear()
        _PREFIXES[(snapshot_version, runner_id)] = prefix
    return prefix


_PREFIXES: dict[tuple[str, str | None], Any] = {}


def decision_id_after(prefix: Any, request: PolicyRequest) -> str:
    """`derive_decision_id` from the runner's `decision_id_prefix`: the same id, without hashing
    the namespace, version and runner again or building a `uuid.UUID`."""
    hashed = prefix.copy()
    given = request.end_user_regions
    hashed.update(
        canonical_request(request) if given is not None and len(given) > 1 else encode_request(request)
    )
    return uuid5_text(hashed.hexdigest())


def uuid5_text(text: str) -> str:
    """`str(uuid.UUID(bytes=digest[:16], version=5))` from the digest in hex, without building a
    UUID object: the version nibble becomes 5, the variant bits 10."""
    return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{UUID_VARIANT[text[16]]}{text[17:20]}-{text[20:32]}"


UUID_VARIANT = {f"{n:x}": f"{(n & 0x3) | 0x8:x}" for n in range(16)}
"""The hex digit at the variant's place with its top bits made 10."""
