"""Sample events shared by the audit tests."""

from __future__ import annotations

from registry.audit import NewEvent


def sample_event(i: int, *, tenant: str = "acme") -> NewEvent:
    return NewEvent(
        kind="policy.decision",
        tenant=tenant,
        actor_subject=f"client-{i % 3}",
        client_id=f"client-{i % 3}",
        request_id=f"req-{i}",
        decision_id=f"dec-{i}",
        payload={"i": i, "decision": "allow", "rules": ["flux-dev@2.0#2.d"], "note": "ünïcode ✓"},
    )
