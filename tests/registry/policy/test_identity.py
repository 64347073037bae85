"""Decision ids are RFC 9562 version-5 UUIDs over the snapshot version, runner and request."""

from __future__ import annotations

import hashlib
import uuid

from registry.policy import derive_decision_id
from registry.policy.identity import (
    DECISION_NAMESPACE,
    canonical_request,
    decision_id_after,
    decision_id_prefix,
    uuid5_text,
)
from tests.registry.policy.conftest import make_request


def test_uuid_text_matches_the_standard_library() -> None:
    for i in range(500):
        digest = hashlib.sha1(str(i).encode()).digest()
        assert uuid5_text(digest.hex()) == str(uuid.UUID(bytes=digest[:16], version=5))


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
