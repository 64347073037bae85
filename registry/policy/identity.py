"""Deterministic decision ids: the same request on the same catalog gets the same id, so a
replayed evaluation can be matched to its audit entry."""

from __future__ import annotations

import uuid

import msgspec

from registry.policy._remembered import sha1_state, uuid5_after
from registry.policy.request import PolicyRequest

DECISION_NAMESPACE = uuid.UUID("6f1c3a0e-8c1d-5b7e-9a35-2f0d4c8e7b10")
_ENCODER = msgspec.json.Encoder(order="deterministic")
encode_request = _ENCODER.encode
"""JSON of a request, its fields in order and dicts and sets sorted."""
encode_request_into = _ENCODER.encode_into
"""`encode_request` written into a bytearray (the C path's, reused: `_remembered.c`)."""


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


def decision_id_prefix(snapshot_version: str, runner_id: str | None) -> bytes:
    """SHA-1 state (OpenSSL's, as `_remembered.sha1_state` makes it: valid in this process only)
    after what the uuid5 name of every decision on `runner_id` starts with: the namespace, the
    snapshot version and the runner id. One per version and runner, shared by every stack on it
    (`stack.StackPlan.id_prefix`): few, so they stay in the CPU's caches."""
    prefix = _PREFIXES.get((snapshot_version, runner_id))
    if prefix is None:
        version, runner = snapshot_version.encode(), (runner_id or "").encode()
        prefix = sha1_state(b"%s%s\x00%s\x00" % (DECISION_NAMESPACE.bytes, version, runner))
        if len(_PREFIXES) >= 4_096:
            _PREFIXES.clear()
        _PREFIXES[(snapshot_version, runner_id)] = prefix
    return prefix


_PREFIXES: dict[tuple[str, str | None], bytes] = {}


def decision_id_after(prefix: bytes, request: PolicyRequest) -> str:
    """`derive_decision_id` from the runner's `decision_id_prefix`: the same id, without hashing
    the namespace, version and runner again or building a `uuid.UUID` (the SHA-1 state copied,
    the request's JSON hashed and the uuid's text written, in C)."""
    given = request.end_user_regions
    return uuid5_after(
        prefix,
        canonical_request(request) if given is not None and len(given) > 1 else encode_request(request),
    )
