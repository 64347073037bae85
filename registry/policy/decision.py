"""What the policy engine answers: a decision with the clauses, licenses, obligations and
agreements that produced it, so the gateway can enforce it and the audit log can prove it."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from registry.vocabulary import Decision, ObligationKind, Purpose


class _Out(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, gc=False):
    """Immutable values without reference cycles: untracked by the garbage collector, so millions
    of decisions do not slow collections down."""


class Party(StrEnum):
    """Who a reason or obligation binds: the tenant, or the operator as a licensee itself."""

    TENANT = "tenant"
    OPERATOR = "operator"


class Effect(StrEnum):
    """What one reason does to the decision; `forbid` beats `review` beats `permit`."""

    PERMIT = "permit"
    REVIEW = "review"
    FORBID = "forbid"


class AppliedVia(StrEnum):
    """Why a license document applies to an artifact of the request."""

    OWN = "own"  # the artifact's own license
    BASE = "base"  # inherited from a base model, any number of levels up
    COMPONENT = "component"  # a bundled component (text encoder, VAE)
    CREATOR = "creator"  # Civitai creator permission flags layered on the artifact's license
    SERVICE_TERMS = "service_terms"  # the service terms of the runner's provider


class AppliedLicense(_Out, frozen=True, gc=False):
    """One license document applying to one artifact of the request, and the path that brings it."""

    license: str
    """`key@version`."""
    artifact: str
    """The requested artifact (model or adapter) it applies to, or the runner id for service terms."""
    via: AppliedVia
    source: str
    """The artifact whose own license it is (the base or component), or the runner id."""
    path: tuple[str, ...] = ()
    """Artifacts from `artifact` down to `source` (bases and components walked)."""
    superseded: bool = False
    """True when runner service terms replace this weight license's grants (its use
    restrictions still bind the tenant)."""


class Reason(_Out, frozen=True, gc=False):
    """One rule that spoke: which party, which license clause (or agreement), and to what effect."""

    party: Party
    effect: Effect
    clause: str
    message: str
    license: str | None = None
    """`key@version` of the license the clause is in; None for catalog or agreement facts."""
    artifacts: tuple[str, ...] = ()
    agreements: tuple[str, ...] = ()
    """Agreements relied on (or found unusable) for this reason."""


class ObligationDue(_Out, frozen=True, gc=False):
    """Something a party must do for the decision to hold."""

    party: Party
    kind: ObligationKind
    clause: str
    license: str | None = None
    agreement: str | None = None
    text: str | None = None
    url: str | None = None


class PartyVerdict(_Out, frozen=True, gc=False):
    """How one party came out, with the purpose it was evaluated for."""

    party: Party
    holder: str
    """Tenant id, or the operator's id."""
    purpose: Purpose
    decision: Decision


class Alternative(_Out, frozen=True, gc=False):
    """Something the tenant may use instead of a denied request, for the same purpose."""

    model_id: str
    decision: Decision
    runner_id: str | None = None
    adapter_ids: tuple[str, ...] = ()
    obligations: int = 0
    price_per_image_usd: float | None = None
    family: str | None = None


class PolicyDecision(_Out, frozen=True, gc=False):
    """The answer of `evaluate`: default deny, any forbid wins, review unless strict, errors deny."""

    decision_id: str
    decision: Decision
    runner_id: str | None
    reasons: tuple[Reason, ...]
    effective_licenses: tuple[AppliedLicense, ...]
    obligations: tuple[ObligationDue, ...]
    agreements_relied_on: tuple[str, ...]
    parties: tuple[PartyVerdict, ...]
    errors: tuple[str, ...] = ()
    alternatives: tuple[Alternative, ...] = ()
    snapshot_version: str = ""

    @property
    def permitted(self) -> bool:
        return self.decision in (Decision.ALLOW, Decision.ALLOW_WITH_OBLIGATIONS)

    def deciding_reasons(self) -> tuple[Reason, ...]:
        """The reasons that made the decision what it is (forbids for a deny, reviews for review)."""
        if self.decision is Decision.DENY:
            wanted = Effect.FORBID
            found = tuple(r for r in self.reasons if r.effect is wanted)
            return found or tuple(r for r in self.reasons if r.effect is Effect.REVIEW)
        if self.decision is Decision.NEEDS_REVIEW:
            return tuple(r for r in self.reasons if r.effect is Effect.REVIEW)
        return ()
