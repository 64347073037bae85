"""The license policy engine: a pure function from a request and an immutable catalog snapshot
to a decision that cites the clauses, licenses, obligations and agreements behind it.

    snapshot = CatalogSnapshot.build(catalog)          # once per catalog revision
    decision = evaluate(PolicyRequest(...), snapshot)  # per request: no I/O, no clock

See docs/policy.md for the rules and worked examples on real licenses.
"""

from registry.policy.decision import (
    Alternative,
    AppliedLicense,
    AppliedVia,
    Effect,
    ObligationDue,
    Party,
    PartyVerdict,
    PolicyDecision,
    Reason,
)
from registry.policy.engine import PolicyEngine
from registry.policy.evaluate import evaluate, evaluate_runners, rank_key
from registry.policy.identity import derive_decision_id
from registry.policy.request import PolicyRequest
from registry.policy.snapshot import CatalogSnapshot, catalog_digest

__all__ = [
    "Alternative",
    "AppliedLicense",
    "AppliedVia",
    "CatalogSnapshot",
    "Effect",
    "ObligationDue",
    "Party",
    "PartyVerdict",
    "PolicyDecision",
    "PolicyEngine",
    "PolicyRequest",
    "Reason",
    "catalog_digest",
    "derive_decision_id",
    "evaluate",
    "evaluate_runners",
    "rank_key",
]
