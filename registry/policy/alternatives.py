"""For a denied request: what the tenant may use instead, for the same purpose and output use.

Candidates are, in this order, the same model and adapters on another runner, the same model
without its adapters, then other base models and provider services (same pipeline family
first). Only permitted candidates are returned, best first: allow before allow with
obligations, same family first, fewer obligations, cheaper. The search is bounded.
"""

from __future__ import annotations

import math

import msgspec

from registry.catalog.entries import Artifact
from registry.policy.agreements import UsabilityWindow
from registry.policy.decision import Alternative, PolicyDecision
from registry.policy.request import PolicyRequest
from registry.policy.snapshot import CatalogSnapshot
from registry.vocabulary import Decision

MAX_MODELS_TRIED = 64


def find_alternatives(
    request: PolicyRequest, snapshot: CatalogSnapshot, windows: list[UsabilityWindow] | None = None
) -> tuple[Alternative, ...]:
    """The permitted candidates, best first; appends to `windows` the usability window of every
    judgement the search relied on (as `evaluate_tracked` does)."""
    from registry.policy.evaluate import DECISION_RANK, _evaluate_on

    model = snapshot.artifacts.get(request.model_id)
    family = model.family if model is not None else None
    tried: list[tuple[str, tuple[str, ...]]] = []
    if request.runner_id is not None:
        tried.append((request.model_id, request.adapter_ids))
    if request.adapter_ids:
        tried.append((request.model_id, ()))
    others = [a for a in snapshot.alternative_models if a.id != request.model_id]
    others.sort(key=lambda a: (a.family != family or family is None, a.id))
    tried.extend((a.id, ()) for a in others[:MAX_MODELS_TRIED])
    any_runners = bool(snapshot.runners)
    found: list[tuple[tuple[int, bool, int, float, str, str], Alternative]] = []
    for model_id, adapters in tried:
        runner_ids: list[str | None] = [r.id for r in snapshot.candidate_runners(model_id)]
        if not runner_ids and not any_runners:
            runner_ids = [None]
        candidate = msgspec.structs.replace(
            request, model_id=model_id, adapter_ids=adapters, runner_id=None, max_alternatives=0
        )
        for runner_id in runner_ids:
            if (model_id, adapters) == (
                request.model_id,
                request.adapter_ids,
            ) and runner_id == request.runner_id:
                continue
            decision = _evaluate_on(candidate, snapshot, runner_id, False, windows)
            if not decision.permitted:
                continue
            alternative = _alternative(decision, snapshot.artifacts[model_id], adapters, snapshot)
            price = alternative.price_per_image_usd
            key = (
                DECISION_RANK[decision.decision],
                snapshot.artifacts[model_id].family != family,
                alternative.obligations,
                math.inf if price is None else price,
                model_id,
                runner_id or "",
            )
            found.append((key, alternative))
    found.sort(key=lambda pair: pair[0])
    return tuple(alternative for _, alternative in found[: request.max_alternatives])


def _alternative(
    decision: PolicyDecision, model: Artifact, adapters: tuple[str, ...], snapshot: CatalogSnapshot
) -> Alternative:
    runner = snapshot.runners.get(decision.runner_id) if decision.runner_id else None
    return Alternative(
        model_id=model.id,
        adapter_ids=adapters,
        runner_id=decision.runner_id,
        decision=Decision(decision.decision),
        obligations=len(decision.obligations),
        price_per_image_usd=runner.price_per_image_usd if runner is not None else None,
        family=model.family,
    )
