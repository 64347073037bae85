"""The remembered decision in C (`registry/policy/_remembered.c`) answers exactly as the
reference evaluation whenever it answers, answers most requests of a warmed snapshot, and leaves
everything else to the Python path."""

from __future__ import annotations

import datetime as dt
import random

import msgspec
from policy_reference import reference_evaluate

from bench.policy import generate_catalog, generate_requests
from registry.policy import CatalogSnapshot, PolicyRequest, evaluate
from registry.policy._remembered import remembered
from registry.policy.agreements import UsabilityWindow
from registry.policy.evaluate import evaluate_tracked
from tests.registry.policy.conftest import load_catalog
from tests.registry.policy.test_reference_equivalence import _builtin_requests


def _varied(requests: list[PolicyRequest], seed: int) -> list[PolicyRequest]:
    """The same requests on other dates and with other usage: remembered operator judgements
    hold on some and not on others."""
    rng = random.Random(seed)
    return [
        msgspec.structs.replace(
            r,
            date=r.date + dt.timedelta(days=rng.choice([0, 1, 30, -60, 200])),
            usage_this_month={k: rng.randrange(250_000) for k in r.usage_this_month},
        )
        for r in requests
    ]


def _answered(requests: list[PolicyRequest], snapshot: CatalogSnapshot) -> int:
    """How many of `requests` the C path answers; each answer is the reference's, and what it
    adds to the windows is what the Python path adds."""
    answered = 0
    for request in requests:
        if request.runner_id is None or request.max_alternatives:
            continue
        windows: list[UsabilityWindow] = []
        fast = remembered(request, snapshot, request.runner_id, windows)
        if fast is None:
            assert windows == []  # nothing appended for the Python path to append again
            continue
        answered += 1
        assert fast == reference_evaluate(request, snapshot), request
        python_windows: list[UsabilityWindow] = []
        assert evaluate_tracked(request, snapshot, python_windows) == fast
        assert windows == python_windows, request
    return answered


def test_the_c_path_answers_as_the_reference_on_the_builtin_catalog() -> None:
    catalog = load_catalog()
    snapshot = CatalogSnapshot.build(catalog)
    requests = [r for r in _builtin_requests(catalog, 600, seed=4) if r.runner_id is not None]
    assert all(remembered(r, snapshot, r.runner_id, None) is None for r in requests[:50])  # nothing yet
    for request in requests:
        evaluate(request, snapshot)
    answered = _answered(requests, snapshot)
    assert answered > len(requests) // 4, answered
    _answered(_varied(requests, 1), snapshot)


def test_the_c_path_answers_most_requests_of_the_benchmarks_traffic() -> None:
    """The benchmark's catalog shape, scaled down: tenants holding agreements that could change
    a remembered decision, operator quotas and windows of dates, all go through it."""
    catalog = generate_catalog(
        3, n_licenses=60, n_bases=40, n_adapters=120, n_tenants=50, n_agreements=3_000, n_runners=8
    )
    snapshot = CatalogSnapshot.build(catalog)
    requests = generate_requests(catalog, 1_500, seed=5, stacks=30, stack_seed=5)
    for request in requests:
        evaluate(request, snapshot)
    assert _answered(requests, snapshot) > len(requests) // 2
    _answered(_varied(requests, 2), snapshot)


def test_the_c_path_answers_none_for_what_it_does_not_know() -> None:
    catalog = load_catalog()
    snapshot = CatalogSnapshot.build(catalog)
    request = next(r for r in _builtin_requests(catalog, 200, seed=3) if r.runner_id is not None)
    evaluate(request, snapshot)
    assert remembered(request, object(), request.runner_id, None) is None
    assert remembered(object(), snapshot, request.runner_id, None) is None
    assert remembered(request, snapshot, "no-such-runner", None) is None
    other_tenant = msgspec.structs.replace(request, tenant_id="no-such-tenant")
    assert remembered(other_tenant, snapshot, request.runner_id, None) is None
    assert evaluate(other_tenant, snapshot).errors  # the Python path explains


def test_without_windows_the_c_path_hands_what_it_looked_up_to_the_python_path() -> None:
    """Where no decision it may answer with is remembered (none for these facts, or the tenant's
    agreements could change it), the C path asked without windows lets the Python path go on
    from what it looked up: the answer is still the reference's, and the decision every tenant
    with those facts gets is remembered for the next one."""
    catalog = generate_catalog(
        3, n_licenses=60, n_bases=40, n_adapters=120, n_tenants=50, n_agreements=3_000, n_runners=8
    )
    snapshot = CatalogSnapshot.build(catalog)
    requests = generate_requests(catalog, 1_500, seed=5, stacks=30, stack_seed=5)
    for request in requests[:500]:
        evaluate(request, snapshot)
    handed_over = 0
    for request in _varied(requests, 3):
        if request.runner_id is None:
            continue
        alone = remembered(request, snapshot, request.runner_id, [])  # answers only from memory
        fast = remembered(request, snapshot, request.runner_id, None)
        if fast is None:
            continue
        assert fast == reference_evaluate(request, snapshot), request
        if alone is None:
            handed_over += 1
        else:
            assert fast == alone
    assert handed_over > 100, handed_over


def test_a_tenant_judged_with_its_own_agreements_leaves_the_decision_of_the_others_remembered() -> None:
    """A tenant whose own agreements change its judgement gets a decision of its own; the one
    every tenant with the same facts and no such agreement gets is remembered beside it, so
    such a tenant asked next is answered from memory."""
    catalog = generate_catalog(
        3, n_licenses=60, n_bases=40, n_adapters=120, n_tenants=50, n_agreements=3_000, n_runners=8
    )
    twins = tuple(msgspec.structs.replace(t, id=f"{t.id}-twin") for t in catalog.tenants)  # no agreements
    snapshot = CatalogSnapshot.build(msgspec.structs.replace(catalog, tenants=(*catalog.tenants, *twins)))
    own_decisions = 0
    for request in generate_requests(catalog, 600, seed=6, stacks=30, stack_seed=5):
        if request.runner_id is None:
            continue
        twin = msgspec.structs.replace(request, tenant_id=f"{request.tenant_id}-twin", usage_this_month={})
        decided = evaluate(request, snapshot)
        if decided.errors:
            continue
        if remembered(request, snapshot, request.runner_id, []) is None:
            own_decisions += 1  # its agreements made it a decision of its own
        snapshot.tenant_seen(twin.tenant_id)  # the C path reads tenants the snapshot has met
        answered = remembered(twin, snapshot, twin.runner_id, [])
        assert answered is not None, request
        assert answered == reference_evaluate(twin, snapshot)
    assert own_decisions > 20, own_decisions


def test_tenants_with_the_same_facts_replay_one_judgement_against_their_own_agreements() -> None:
    """What a license says before any agreement is looked for is judged once for some facts
    (`judge.license_steps`) and replayed against each tenant's own agreements: a twin holding the
    same agreements under other ids is permitted by its own, a twin whose copies expired long ago
    is told why none could be used, each exactly as the reference says."""
    catalog = generate_catalog(
        3, n_licenses=60, n_bases=40, n_adapters=120, n_tenants=50, n_agreements=3_000, n_runners=8
    )
    tenant_ids = {t.id for t in catalog.tenants}
    own = [a for a in catalog.agreements if a.holder in tenant_ids]
    twins = {
        "-live": [msgspec.structs.replace(a, id=f"{a.id}-live", holder=f"{a.holder}-live") for a in own],
        "-expired": [
            msgspec.structs.replace(
                a,
                id=f"{a.id}-expired",
                holder=f"{a.holder}-expired",
                valid_from=dt.date(2001, 1, 1),
                valid_until=dt.date(2001, 12, 31),
                revoked_at=None,
            )
            for a in own
        ],
    }
    snapshot = CatalogSnapshot.build(
        msgspec.structs.replace(
            catalog,
            tenants=(
                *catalog.tenants,
                *(
                    msgspec.structs.replace(t, id=f"{t.id}{suffix}")
                    for suffix in twins
                    for t in catalog.tenants
                ),
            ),
            agreements=(*catalog.agreements, *twins["-live"], *twins["-expired"]),
        )
    )
    relied_on_own, told_expired = 0, 0
    for request in generate_requests(catalog, 600, seed=7, stacks=30, stack_seed=5):
        if request.runner_id is None:
            continue
        for suffix in ("", "-live", "-expired"):
            asked = msgspec.structs.replace(
                request,
                tenant_id=f"{request.tenant_id}{suffix}",
                usage_this_month={f"{k}{suffix}": v for k, v in request.usage_this_month.items()},
            )
            decided = evaluate(asked, snapshot)
            assert decided == reference_evaluate(asked, snapshot), asked
            if suffix == "-live" and any(a.endswith("-live") for a in decided.agreements_relied_on):
                relied_on_own += 1
            if suffix == "-expired" and any(
                "-expired' expired after 2001-12-31" in r.message for r in decided.reasons
            ):
                told_expired += 1
    assert relied_on_own > 20, relied_on_own
    assert told_expired > 20, told_expired
