"""`PolicyEngine` keeps a decision once its request is asked again (or at once when it cost a
search for alternatives): requests asked once, the long tail of a gateway's traffic, neither
take room from those asked again nor cost an entry each."""

from __future__ import annotations

import datetime as dt

import msgspec

from registry.policy import CatalogSnapshot, PolicyEngine, PolicyRequest, evaluate
from registry.vocabulary import Decision
from tests.registry.policy.conftest import make_request

FLUX2 = "black-forest-labs/FLUX.2-dev"


def _request(**fields: object) -> PolicyRequest:
    fields = {
        "tenant_id": "acme",
        "model_id": FLUX2,
        "runner_id": "local-flux2",
        "purpose": "research",
        "max_alternatives": 0,
        **fields,
    }
    return make_request(**fields)


def test_a_decision_is_kept_when_its_request_is_asked_again(snapshot: CatalogSnapshot) -> None:
    engine = PolicyEngine(snapshot, cache_size=16)
    request = _request()
    first = engine.evaluate(request)
    assert engine.kept == 0
    assert engine.evaluate(request) == first == evaluate(request, snapshot)
    assert engine.kept == 1
    # asked again on another day with another id: answered from what is kept
    later = msgspec.structs.replace(request, date=request.date + dt.timedelta(days=1))
    assert engine.evaluate(later) == evaluate(later, snapshot)
    assert engine.kept == 1


def test_requests_asked_once_take_no_room_from_those_asked_again(snapshot: CatalogSnapshot) -> None:
    engine = PolicyEngine(snapshot, cache_size=2)
    popular = _request(purpose="personal")
    engine.evaluate(popular)
    engine.evaluate(popular)
    assert engine.kept == 1
    for n in range(1, 50):  # the long tail: each asked once (and allowed: no search)
        once = _request(max_alternatives=n)
        decision = engine.evaluate(once)
        assert decision == evaluate(once, snapshot)
        assert decision.decision is not Decision.DENY
    assert engine.kept == 1
    assert engine.evaluate(popular) == evaluate(popular, snapshot)


def test_a_deny_that_searched_for_alternatives_is_kept_at_once(snapshot: CatalogSnapshot) -> None:
    engine = PolicyEngine(snapshot, cache_size=16)
    denied = _request(tenant_id="hobbyist", purpose="commercial_product", max_alternatives=3)
    decision = engine.evaluate(denied)
    assert decision.decision is Decision.DENY
    assert decision == evaluate(denied, snapshot)
    assert engine.kept == 1
    assert engine.evaluate(denied) == decision


def test_a_new_snapshot_forgets_what_was_asked(snapshot: CatalogSnapshot) -> None:
    engine = PolicyEngine(snapshot, cache_size=16)
    request = _request()
    engine.evaluate(request)
    engine.replace_snapshot(snapshot)
    engine.evaluate(request)
    assert engine.kept == 0  # the first ask on this snapshot
