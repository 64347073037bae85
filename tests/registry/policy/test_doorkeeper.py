"""`Doorkeeper`, the C set of hashes behind `PolicyEngine`'s "asked before?": a request counts
as asked before when one with the same key was (the request but its date, usage and decision
id), whatever object it is, and everything is forgotten at once past the limit."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from registry.catalog.entries import TenantProfile
from registry.policy import CatalogSnapshot, PolicyDecision, PolicyEngine, PolicyRequest, evaluate
from registry.policy._remembered import Doorkeeper
from tests.registry.policy.conftest import make_request


def _request(**fields: object) -> PolicyRequest:
    return make_request(
        **{
            "tenant_id": "acme",
            "model_id": "black-forest-labs/FLUX.2-dev",
            "runner_id": "local-flux2",
            "purpose": "research",
            "max_alternatives": 0,
            **fields,
        }
    )


def test_a_request_is_noted_at_its_first_ask_and_recognised_at_the_next() -> None:
    keeper = Doorkeeper(16)
    request = _request()
    assert keeper.note(request) is None
    assert len(keeper) == 1
    hashed = keeper.note(request)
    assert hashed == keeper.key_hash(request)
    assert len(keeper) == 1


def test_date_usage_and_decision_id_are_not_part_of_the_key() -> None:
    keeper = Doorkeeper(16)
    assert keeper.note(_request(usage_this_month={"a": 1})) is None
    again = _request(
        date=dt.date(2027, 1, 2), usage_this_month={"a": 5, "b": 7}, decision_id="given-by-the-caller"
    )
    assert keeper.note(again) is not None


@pytest.mark.parametrize(
    "change",
    [
        {"tenant_id": "hobbyist"},
        {"model_id": "stabilityai/stable-diffusion-3.5-large"},
        {"adapter_ids": ["some/lora"]},
        {"runner_id": None},
        {"purpose": "commercial_product"},
        {"output_use": "sell"},
        {"use_cases": ["medical_advice"]},
        {"end_user_regions": ["EU"]},
        {"strict": True},
        {"profile_override": {"country": "DE"}},
        {"max_alternatives": 3},
    ],
)
def test_every_other_field_makes_another_key(change: dict[str, object]) -> None:
    keeper = Doorkeeper(16)
    assert keeper.note(_request()) is None
    assert keeper.note(_request(**change)) is None
    assert len(keeper) == 2


def test_profiles_and_use_cases_count_by_value() -> None:
    keeper = Doorkeeper(16)
    first = _request(
        profile_override={"country": "DE", "annual_revenue_usd": 10}, use_cases=["medical_advice", "military"]
    )
    assert keeper.note(first) is None
    # equal values in other objects, the set in another order
    second = _request(
        profile_override={"annual_revenue_usd": 10, "country": "DE"}, use_cases=["military", "medical_advice"]
    )
    assert second.profile_override is not first.profile_override
    assert isinstance(second.profile_override, TenantProfile)
    assert keeper.note(second) is not None


def test_past_the_limit_everything_is_forgotten_at_once() -> None:
    keeper = Doorkeeper(3)
    requests = [_request(max_alternatives=n) for n in range(4)]
    for request in requests[:3]:
        assert keeper.note(request) is None
    assert [keeper.note(r) is not None for r in requests[:3]] == [True, True, True]
    assert keeper.note(requests[3]) is None  # the fourth: the three before are forgotten
    assert len(keeper) == 1
    assert keeper.note(requests[0]) is None
    keeper.clear()
    assert len(keeper) == 0
    assert keeper.note(requests[3]) is None


def test_many_requests_are_told_apart() -> None:
    keeper = Doorkeeper(10_000)
    requests = [_request(tenant_id=f"tenant-{n}", max_alternatives=n % 7) for n in range(5_000)]
    assert all(keeper.note(r) is None for r in requests)
    assert all(keeper.note(r) is not None for r in requests)
    assert len(keeper) == 5_000


def test_a_first_ask_is_answered_by_the_c_path_and_the_next_gets_the_hash(snapshot: CatalogSnapshot) -> None:
    keeper = Doorkeeper(16)
    request = _request(purpose="commercial_product")
    expected = evaluate(request, snapshot)  # the snapshot now remembers what the C path reads
    decision = keeper.first_ask(request, snapshot)
    assert isinstance(decision, PolicyDecision)
    assert decision == expected
    assert keeper.first_ask(request, snapshot) == keeper.key_hash(request)
    # the same key on another day: asked before
    later = msgspec.structs.replace(request, date=request.date + dt.timedelta(days=3))
    assert keeper.first_ask(later, snapshot) == keeper.key_hash(request)


@pytest.mark.parametrize("change", [{"max_alternatives": 2}, {"runner_id": None}])
def test_a_first_ask_that_may_keep_or_search_is_left_to_the_engine(
    snapshot: CatalogSnapshot, change: dict[str, object]
) -> None:
    keeper = Doorkeeper(16)
    request = _request(**change)
    assert keeper.first_ask(request, snapshot) is None
    assert keeper.first_ask(request, snapshot) == keeper.key_hash(request)


def test_bad_arguments_are_refused() -> None:
    keeper = Doorkeeper(4)
    with pytest.raises(TypeError, match="PolicyRequest"):
        keeper.note({"tenant_id": "acme"})
    with pytest.raises(ValueError, match="limit"):
        Doorkeeper(0)
    with pytest.raises(TypeError, match="first_ask"):
        keeper.first_ask(_request())  # type: ignore[call-arg]
    assert len(keeper) == 0


def test_the_engine_keeps_a_decision_asked_again_with_an_equal_profile(snapshot: CatalogSnapshot) -> None:
    engine = PolicyEngine(snapshot, cache_size=16)
    first = _request(profile_override={"country": "US", "annual_revenue_usd": 5_000_000})
    engine.evaluate(first)
    assert engine.kept == 0
    again = msgspec.convert(msgspec.to_builtins(first), PolicyRequest)  # equal, not the same objects
    assert again.profile_override is not first.profile_override
    assert engine.evaluate(again) == evaluate(again, snapshot)
    assert engine.kept == 1
