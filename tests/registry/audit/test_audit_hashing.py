"""The leaf encoding is a format stored forever: these known answers pin it (and docs/audit.md)."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest

from registry.audit import JobOutcome, PayloadEncodingError
from registry.audit.hashing import (
    GENESIS_CHAIN_HASH,
    canonical_payload,
    chain_hash,
    event_encoding,
    leaf_hash,
    timestamp_text,
)

MOMENT = dt.datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=dt.UTC)


def test_known_answer() -> None:
    payload = canonical_payload({"b": 'é"\n', "a": [1, 2.5]})
    encoding = event_encoding(
        1, timestamp_text(MOMENT), "policy.decision", "sub", "cli", "acme", None, "d-1", None, payload
    )
    assert encoding == (
        b'[1,1,"2026-01-02T03:04:05.000006Z","policy.decision","sub","cli","acme",null,"d-1",null,'
        b'{"a":[1,2.5],"b":"\xc3\xa9\\"\\n"}]'
    )
    leaf = leaf_hash(encoding)
    assert leaf == hashlib.sha256(b"\x00" + encoding).digest()
    assert leaf.hex() == "543a2d8c55a5b3e9543e90149a1deb2d893b04ba45b51b446a24de344c24c11e"
    assert chain_hash(GENESIS_CHAIN_HASH, leaf) == hashlib.sha256(b"\x01" + bytes(32) + leaf).digest()
    assert (
        chain_hash(GENESIS_CHAIN_HASH, leaf).hex()
        == "42064550cbf4b5a7b02590453ee238bd11783747736dba374f2765d4a3ee0519"
    )


def test_timestamps_are_utc_with_microseconds() -> None:
    paris = dt.timezone(dt.timedelta(hours=1))
    assert timestamp_text(dt.datetime(2026, 1, 2, 4, 0, tzinfo=paris)) == "2026-01-02T03:00:00.000000Z"


def test_payloads_are_canonical_whatever_the_key_order() -> None:
    assert canonical_payload({"b": 1, "a": {"d": None, "c": 2}}) == '{"a":{"c":2,"d":null},"b":1}'
    outcome = JobOutcome(job_id="j", status="succeeded", images=1, purpose="research", runner="r")
    sorted_keys = '{"agreements":[],"artifacts":[],"image_sha256":[],"images":1,'
    assert canonical_payload(outcome).startswith(sorted_keys)


@pytest.mark.parametrize("bad", [float("nan"), {"x": [float("inf")]}, {"when": object()}])
def test_payloads_without_one_canonical_form_are_refused(bad: object) -> None:
    with pytest.raises(PayloadEncodingError):
        canonical_payload(bad)
