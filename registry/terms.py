"""Machine-readable license terms: the typed schema behind the `terms` JSON of a license document.

Every value that reaches the database was decoded through these Structs, so invalid terms
(unknown purpose, negative cap, missing clause) never get there. Each grant, condition,
restriction and obligation names the clause of the license text it comes from, so a decision
can cite it.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from registry.vocabulary import (
    GrantStatus,
    ObligationKind,
    OrganisationType,
    OutputUse,
    Purpose,
    UseCase,
)

Clause = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
Region = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
"""ISO 3166-1 alpha-2 country code, or `EU` for the European Union as a whole."""


class _Term(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True):
    pass


class _Condition(_Term, tag_field="kind", frozen=True):
    clause: Clause


class RevenueCap(_Condition, tag="revenue_cap", frozen=True):
    """Annual revenue of the licensee (with affiliates when `includes_affiliates`) at most `max_usd`."""

    max_usd: NonNegative
    includes_affiliates: bool = True


class MauCap(_Condition, tag="mau_cap", frozen=True):
    """Monthly active users at most `max_users`; with `only_if_core_business` the cap binds only a
    licensee whose core business is image generation (Playground v2.5)."""

    max_users: NonNegative
    only_if_core_business: bool = False


class TerritoryCondition(_Condition, tag="territory", frozen=True):
    """The licensee and its end users must be outside `excluded` (and inside `allowed` if set)."""

    excluded: tuple[Region, ...] = ()
    allowed: tuple[Region, ...] = ()


class NonProduction(_Condition, tag="non_production", frozen=True):
    """Only in a non-production environment (testing, evaluation)."""


class NoPaymentReceived(_Condition, tag="no_payment", frozen=True):
    """Nobody (licensee or operator) receives direct or indirect payment arising from the use."""


class OrganisationTypeCondition(_Condition, tag="organisation_type", frozen=True):
    allowed: tuple[OrganisationType, ...]


class RegistrationRequired(_Condition, tag="registration", frozen=True):
    """The licensee registered with `registry` (e.g. `stability-ai`)."""

    registry: Annotated[str, msgspec.Meta(min_length=1)]
    url: str | None = None


class NoThirdPartyHosting(_Condition, tag="no_third_party_hosting", frozen=True):
    """Third parties may not use the model through the licensee's hosted service or API."""


Condition = (
    RevenueCap
    | MauCap
    | TerritoryCondition
    | NonProduction
    | NoPaymentReceived
    | OrganisationTypeCondition
    | RegistrationRequired
    | NoThirdPartyHosting
)


class Grant(_Term, frozen=True):
    """What the license says about using the weights for one purpose."""

    purpose: Purpose
    status: GrantStatus
    clause: Clause
    conditions: tuple[Condition, ...] = ()
    note: str | None = None


class OutputGrant(_Term, frozen=True):
    """What the license says about one use of generated outputs."""

    use: OutputUse
    status: GrantStatus
    clause: Clause
    conditions: tuple[Condition, ...] = ()
    note: str | None = None


class OutputTerms(_Term, frozen=True):
    grants: tuple[OutputGrant, ...] = ()
    ownership: str | None = None
    """Who owns outputs per the text (`licensee`, `unspecified`...)."""
    ownership_clause: str | None = None


class DerivativeTerms(_Term, frozen=True):
    """How the license reaches models derived from the artifact (fine-tunes, LoRAs, distillations)."""

    inherits: bool
    """A derivative stays under this license whatever its own tag says."""
    clause: Clause
    includes_adapters: bool = True
    restrictions_propagate: bool = True
    includes_models_trained_on_outputs: bool = False


class UseRestriction(_Term, frozen=True):
    """A use the license forbids, whatever the purpose (also non-commercial)."""

    use_case: UseCase
    clause: Clause


class Obligation(_Term, frozen=True):
    """Something the licensee must do; `purposes` empty means whenever the license is relied on."""

    kind: ObligationKind
    clause: Clause
    text: str | None = None
    url: str | None = None
    purposes: tuple[Purpose, ...] = ()


class Territory(_Term, frozen=True):
    """Where the license does not apply, for the weights and (when `applies_to_outputs`) outputs."""

    excluded: tuple[Region, ...]
    clause: Clause
    applies_to_outputs: bool = False


class Termination(_Term, frozen=True):
    clause: Clause
    at_will_by_licensor: bool = False
    note: str | None = None


class LicenseTerms(_Term, frozen=True):
    grants: tuple[Grant, ...]
    outputs: OutputTerms = OutputTerms()
    derivatives: DerivativeTerms | None = None
    use_restrictions: tuple[UseRestriction, ...] = ()
    obligations: tuple[Obligation, ...] = ()
    territory: Territory | None = None
    termination: Termination | None = None

    def __post_init__(self) -> None:
        seen: set[Purpose] = set()
        for grant in self.grants:
            if grant.purpose in seen:
                raise ValueError(f"purpose {grant.purpose.value!r} is granted twice")
            seen.add(grant.purpose)
        uses: set[OutputUse] = set()
        for out in self.outputs.grants:
            if out.use in uses:
                raise ValueError(f"output use {out.use.value!r} is granted twice")
            uses.add(out.use)

    def grant_for(self, purpose: Purpose) -> Grant | None:
        for grant in self.grants:
            if grant.purpose is purpose:
                return grant
        return None

    def output_grant_for(self, use: OutputUse) -> OutputGrant | None:
        for grant in self.outputs.grants:
            if grant.use is use:
                return grant
        return None
