"""Civitai creator permission flags: layered on top of an artifact's license, they can only
narrow it (take uses away) or add a credit obligation."""

from __future__ import annotations

from registry.catalog.entries import CreatorPermissions
from registry.policy.decision import Effect, ObligationDue, Party
from registry.policy.judge import Verdict
from registry.vocabulary import COMMERCIAL_PURPOSES, CivitaiCommercialUse, ObligationKind, OutputUse, Purpose

CREATOR_CLAUSE = "Civitai creator permissions"


def judge_creator(
    artifact_id: str,
    license_ref: str,
    permissions: CreatorPermissions,
    verdict: Verdict,
    output_use: OutputUse | None,
    operator_charges: bool,
) -> None:
    """Civitai flags: they never widen the license, only take away or add credit."""
    ctx = verdict.ctx
    uses = permissions.allow_commercial_use
    who = f" set by {permissions.creator}" if permissions.creator else ""

    def forbid(flag: str, message: str) -> None:
        verdict.add(Effect.FORBID, f"{CREATOR_CLAUSE}: {flag}", message + who, license_, (artifact_id,))

    license_ = license_ref
    if ctx.party is Party.OPERATOR:
        if operator_charges and CivitaiCommercialUse.RENT not in uses:
            forbid("allowCommercialUse", "the creator does not allow running it on a paid generation service")
        return
    if ctx.purpose in COMMERCIAL_PURPOSES and not uses:
        forbid("allowCommercialUse", "the creator allows no commercial use")
    elif ctx.purpose is Purpose.HOSTED_SERVICE and CivitaiCommercialUse.RENT not in uses:
        forbid("allowCommercialUse", "the creator does not allow offering it as a paid service")
    if output_use is OutputUse.SELL and CivitaiCommercialUse.IMAGE not in uses:
        forbid("allowCommercialUse", "the creator does not allow selling generated images")
    if ctx.purpose is Purpose.TRAIN_MODEL and not permissions.allow_derivatives:
        forbid("allowDerivatives", "the creator does not allow derivatives")
    if not permissions.allow_no_credit:
        verdict.obligations.append(
            ObligationDue(
                party=ctx.party,
                kind=ObligationKind.ATTRIBUTION,
                clause=f"{CREATOR_CLAUSE}: allowNoCredit",
                license=license_ref,
                text=f"Credit {permissions.creator or 'the creator'} for {artifact_id}",
            )
        )
