"""The hash chain, RFC 9162 style, over a canonical encoding of each event.

    leaf  = SHA-256(0x00 || encoding(event))
    chain = SHA-256(0x01 || previous chain || leaf)      (previous of the first event: 32 zero bytes)

`encoding(event)` is the JSON array, as msgspec writes it (no whitespace, UTF-8, minimal escapes):

    [1, seq, "YYYY-MM-DDTHH:MM:SS.ffffffZ", kind, actor_subject, client_id, tenant,
     request_id, decision_id, job_id, <payload canonical JSON, verbatim>]

A positional array is deterministic by construction and cheap to rebuild, which keeps
verification of a million events within seconds. The leading 1 is the encoding version.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from typing import Any

import msgspec

from registry.audit.errors import AuditError

ENCODING_VERSION = 1
GENESIS_CHAIN_HASH = bytes(32)
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"

_encode_sorted = msgspec.json.Encoder(order="sorted").encode
_encode = msgspec.json.Encoder().encode
_sha256 = hashlib.sha256


class PayloadEncodingError(AuditError, ValueError):
    """A payload that has no single canonical JSON form (NaN, infinity, unsupported type)."""


def canonical_payload(payload: Any) -> str:
    """Sorted keys, no whitespace; NaN and infinities refused rather than silently nulled."""
    try:
        encoded = _encode_sorted(payload)
    except (TypeError, msgspec.EncodeError) as exc:
        raise PayloadEncodingError(f"audit payload cannot be encoded as JSON: {exc}") from exc
    if b"null" in encoded:  # msgspec writes NaN and infinities as null: look closer only then
        _reject_non_finite(msgspec.to_builtins(payload) if isinstance(payload, msgspec.Struct) else payload)
    return encoded.decode()


def _reject_non_finite(value: Any) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise PayloadEncodingError(f"audit payload holds a non-finite number: {value!r}")
    if isinstance(value, dict):
        for item in value.values():
            _reject_non_finite(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _reject_non_finite(item)


def timestamp_text(moment: dt.datetime) -> str:
    """The one textual form of a timestamp inside the hash: UTC, microseconds, `Z`."""
    utc = moment.astimezone(dt.UTC)
    return (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:"
        f"{utc.second:02d}.{utc.microsecond:06d}Z"
    )


def event_encoding(
    seq: int,
    recorded_at: str,
    kind: str,
    actor_subject: str | None,
    client_id: str | None,
    tenant: str | None,
    request_id: str | None,
    decision_id: str | None,
    job_id: str | None,
    payload: str,
) -> bytes:
    return _encode(
        (
            ENCODING_VERSION,
            seq,
            recorded_at,
            kind,
            actor_subject,
            client_id,
            tenant,
            request_id,
            decision_id,
            job_id,
            msgspec.Raw(payload),
        )
    )


def leaf_hash(encoding: bytes) -> bytes:
    return _sha256(LEAF_PREFIX + encoding).digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    return _sha256(NODE_PREFIX + previous + leaf).digest()
