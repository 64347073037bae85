"""Admin changes and catalog loads, as audit events with the actor and the before/after state."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from registry.audit.events import EventKind, NewEvent
from registry.catalog.store import ChangeAction, LoadReport


def admin_change_event(
    *,
    actor_subject: str,
    action: str,
    target: str,
    before: Any,
    after: Any,
    client_id: str | None = None,
    tenant: str | None = None,
    request_id: str | None = None,
) -> NewEvent:
    """`action` e.g. `tenant.update`, `client.create`, `key.rotate`; `target` the entry's id.

    `before` is None for a creation, `after` None for a removal; both plain JSON-able values.
    """
    return NewEvent(
        kind=EventKind.ADMIN_CHANGE,
        actor_subject=actor_subject,
        client_id=client_id,
        tenant=tenant,
        request_id=request_id,
        payload={"action": action, "target": target, "before": before, "after": after},
    )


def catalog_load_event(report: LoadReport, *, actor_subject: str, sources: Sequence[str] = ()) -> NewEvent:
    """Changed entries with before/after; unchanged ones are only counted."""
    changed = [change for change in report.changes if change.action is not ChangeAction.UNCHANGED]
    return NewEvent(
        kind=EventKind.CATALOG_LOAD,
        actor_subject=actor_subject,
        payload={
            "sources": list(sources),
            "summary": report.summary(),
            "unchanged": len(report.changes) - len(changed),
            "changes": [
                {
                    "section": change.section,
                    "id": change.id,
                    "action": change.action.value,
                    "before": change.before,
                    "after": change.after,
                }
                for change in changed
            ],
        },
    )
