"""Outbound URL guard against server-side request forgery (SSRF).

Shared by the importers (registry) and the gateway's webhooks and licensor reports, so every
request that Clearance makes to a URL it did not choose itself goes through one set of rules.
"""

from registry.netguard.addresses import refusal_reason
from registry.netguard.errors import UnsafeUrlError
from registry.netguard.policy import AllowEntry, OutboundPolicy
from registry.netguard.resolver import GuardedResolver, GuardedSession, guarded_session
from registry.netguard.urls import OutboundTarget, VettedUrl, check_url, vet_url

__all__ = [
    "AllowEntry",
    "GuardedResolver",
    "GuardedSession",
    "OutboundPolicy",
    "OutboundTarget",
    "UnsafeUrlError",
    "VettedUrl",
    "check_url",
    "guarded_session",
    "refusal_reason",
    "vet_url",
]
