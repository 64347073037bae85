"""Decision ids are RFC 9562 version-5 UUIDs over the snapshot version, runner and request."""

from __future__ import annotations

import hashlib
import uuid

import pytest

from registry.policy import derive_decision_id
from registry.policy._remembered import sha1_state, uuid5_after
from registry.policy.identity import (
    DECISION_NAMESPACE,
    canonical_request,
    decision_id_after,
    decision_id_prefix,
)
from tests.registry.policy.conftest import make_request


def test_the_uuid_text_written_in_c_matches_the_standard_library() -> None:
    """`_remembered.uuid5_after`: SHA-1 of a state's prefix and a body, as uuid5 text."""
    for i in range(500):
        prefix, body = b"p" * (i % 97), str(i).encode() * (i % 13)
        expected = uuid.UUID(bytes=hashlib.sha1(prefix + body).digest()[:16], version=5)
        assert uuid5_after(sha1_state(prefix), body) == str(expected)


def test_uuid5_after_refuses_what_is_not_a_sha1_state() -> None:
    with pytest.raises(TypeError, match="SHA-1 state"):
        uuid5_after(b"not a state", b"body")


def test_decision_id_is_uuid5_of_version_runner_and_canonical_request() -> None:
    request = make_request(tenant_id="acme", model_id="m", purpose="research", end_user_regions=["US", "DE"])
    name = b"v1\x00r1\x00" + canonical_request(request)
    assert derive_decision_id(request, "v1", "r1") == str(uuid.uuid5(DECISION_NAMESPACE, name.decode()))
    swapped = make_request(tenant_id="acme", model_id="m", purpose="research", end_user_regions=["DE", "US"])
    assert derive_decision_id(swapped, "v1", "r1") == derive_decision_id(request, "v1", "r1")


def test_the_id_from_a_runners_prefix_is_the_derived_id() -> None:
    """`PolicyEngine` derives a remembered decision's id from the runner's SHA-1 prefix."""
    for regions in (None, [], ["US"], ["US", "DE"], ["DE", "US", "DE"]):
        request = make_request(
            tenant_id="acme",
            model_id="m",
            purpose="research",
            end_user_regions=regions,
            usage_this_month={"b": 2, "a": 1},
        )
        for runner in ("r1", None):
            prefix = decision_id_prefix("v1", runner)
            assert decision_id_after(prefix, request) == derive_decision_id(request, "v1", runner)
    assert decision_id_after(decision_id_prefix("v1", "r1"), request) != derive_decision_id(
        request, "v2", "r1"
    )
