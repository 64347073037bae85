"""Who makes an admin change, as the audit log records it."""

from __future__ import annotations

import getpass
from typing import Any

import msgspec

from gateway.auth.context import AuthContext
from registry.audit import NewEvent, admin_change_event


class Actor(msgspec.Struct, frozen=True, kw_only=True):
    subject: str
    """The token's `sub` (the client id for our tokens), or `cli:<user>`."""
    client_id: str | None = None
    tenant_id: str | None = None
    """The tenant the actor's token acts for: retiring it would lock the actor out (None: the CLI)."""
    request_id: str | None = None
    """The HTTP request acting (None: the CLI), recorded on the admin change events."""

    @classmethod
    def of(cls, auth: AuthContext) -> Actor:
        return cls(
            subject=auth.subject,
            client_id=auth.client_id,
            tenant_id=auth.tenant_id,
            request_id=auth.request_id,
        )

    @classmethod
    def cli(cls) -> Actor:
        return cls(subject=f"cli:{getpass.getuser()}")

    def change_event(self, action: str, target: str, before: Any, after: Any, tenant: str | None) -> NewEvent:
        """An `admin.change` audit event made by this actor (`registry.audit.admin_change_event`)."""
        return admin_change_event(
            actor_subject=self.subject,
            client_id=self.client_id,
            request_id=self.request_id,
            action=action,
            target=target,
            before=before,
            after=after,
            tenant=tenant,
        )
