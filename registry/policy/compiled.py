"""A license document turned into lookup tables once per snapshot, so evaluation never scans."""

from __future__ import annotations

from dataclasses import dataclass

from registry.catalog.entries import UNKNOWN_LICENSE, LicenseDocument
from registry.policy.regions import expand_regions
from registry.terms import Grant, Obligation, OutputGrant
from registry.vocabulary import OutputUse, Purpose, UseCase


@dataclass(frozen=True, slots=True)
class CompiledLicense:
    document: LicenseDocument
    ref: str
    family: str
    unknown: bool
    """`unknown@0`: the catalog could not tell the license, so nothing is ever allowed on it."""
    grants: dict[Purpose, Grant]
    output_grants: dict[OutputUse, OutputGrant]
    restricted: dict[UseCase, str]
    """Use case -> clause forbidding it."""
    obligations: dict[Purpose, tuple[Obligation, ...]]
    excluded_regions: frozenset[str]
    territory_clause: str | None
    territory_covers_outputs: bool
    inherits_to_adapters: bool
    inherits_to_finetunes: bool
    restrictions_propagate: bool

    @classmethod
    def compile(cls, document: LicenseDocument) -> CompiledLicense:
        terms = document.terms
        derivatives = terms.derivatives
        # Unknown derivative terms are read as inheriting: the most restrictive reading wins.
        inherits = True if derivatives is None else derivatives.inherits
        territory = terms.territory
        return cls(
            document=document,
            ref=document.ref,
            family=document.family,
            unknown=document.ref == UNKNOWN_LICENSE,
            grants={grant.purpose: grant for grant in terms.grants},
            output_grants={grant.use: grant for grant in terms.outputs.grants},
            restricted={r.use_case: r.clause for r in terms.use_restrictions},
            obligations={
                purpose: tuple(o for o in terms.obligations if not o.purposes or purpose in o.purposes)
                for purpose in Purpose
            },
            excluded_regions=expand_regions(territory.excluded) if territory else frozenset(),
            territory_clause=territory.clause if territory else None,
            territory_covers_outputs=bool(territory and territory.applies_to_outputs),
            inherits_to_adapters=inherits and (derivatives is None or derivatives.includes_adapters),
            inherits_to_finetunes=inherits,
            restrictions_propagate=derivatives is None or derivatives.restrictions_propagate,
        )
