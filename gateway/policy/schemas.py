"""Request and answer of the policy dry run."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import msgspec

from registry.catalog.entries import TenantProfile
from registry.policy import PolicyDecision
from registry.terms import Region
from registry.vocabulary import OutputUse, Purpose, UseCase


class EvaluationRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a generation request would ask; the tenant comes from the token."""

    model_id: str
    purpose: Purpose
    adapter_ids: tuple[str, ...] = ()
    runner_id: str | None = None
    """None: judge every runner serving the model and answer for the best one."""
    output_use: OutputUse = OutputUse.INTERNAL
    use_cases: frozenset[UseCase] = frozenset()
    end_user_regions: tuple[Region, ...] | None = None
    """None: the regions of the tenant's profile."""
    date: dt.date | None = None
    """The day to judge; None: today (UTC). Lets a tenant see when an agreement starts to count."""
    profile_override: TenantProfile | None = None
    """A what-if profile ("what if our revenue were declared?"); never used outside dry runs."""
    max_alternatives: Annotated[int, msgspec.Meta(ge=0, le=20)] = 5
    tenant_id: str | None = None
    """Only with the `admin` scope: judge for this tenant instead of the caller's."""


class EvaluationResult(msgspec.Struct, frozen=True, kw_only=True):
    tenant_id: str
    date: dt.date
    decision: PolicyDecision
    deciding_clauses: tuple[str, ...]
    """The clauses of the reasons that made the decision (forbids for a deny)."""
