"""The question put to the policy engine: who wants to run what, where, for what purpose."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from registry.catalog.entries import TenantProfile
from registry.terms import Region
from registry.vocabulary import OutputUse, Purpose, UseCase

NonNegative = Annotated[int, msgspec.Meta(ge=0)]


class PolicyRequest(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """One generation request as the policy sees it.

    The tenant's profile and agreements come from the snapshot (the request names the tenant
    only), so a client cannot talk itself into a permission; `profile_override` exists for dry
    runs ("what if our revenue were declared?") and is never set by the gateway from a client.
    The date is an input: the engine never reads the clock.
    """

    tenant_id: str
    model_id: str
    purpose: Purpose
    date: dt.date
    adapter_ids: tuple[str, ...] = ()
    """In the order they are applied; order does not change the licenses that apply."""
    runner_id: str | None = None
    """None: evaluate every enabled runner serving the model and answer for the best one."""
    output_use: OutputUse = OutputUse.INTERNAL
    use_cases: frozenset[UseCase] = frozenset()
    end_user_regions: tuple[Region, ...] | None = None
    """None: the regions of the tenant's profile."""
    usage_this_month: dict[str, NonNegative] = {}
    """Generations already counted this month per agreement id (for monthly quotas)."""
    strict: bool = False
    """Turn `needs_review` into `deny` (no human in the loop)."""
    profile_override: TenantProfile | None = None
    max_alternatives: NonNegative = 5
    """How many alternatives to look for when the answer is deny; 0 skips the search."""
    decision_id: str | None = None
    """Caller-chosen decision id; None derives a deterministic uuid5 from request and snapshot."""
