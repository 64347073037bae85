"""The license-term Structs: what they accept, what they refuse, and that they round-trip."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from registry.terms import (
    Grant,
    LicenseTerms,
    MauCap,
    NoPaymentReceived,
    RevenueCap,
    TerritoryCondition,
)
from registry.vocabulary import GrantStatus, OutputUse, Purpose

STABILITY_COMMUNITY: dict[str, Any] = {
    "grants": [
        {"purpose": "research", "status": "allowed", "clause": "II(a)"},
        {
            "purpose": "commercial_product",
            "status": "conditional",
            "clause": "II(b)",
            "conditions": [
                {"kind": "revenue_cap", "max_usd": 1_000_000, "clause": "IV(a)"},
                {"kind": "registration", "registry": "stability-ai", "clause": "II(b)"},
            ],
        },
    ],
    "outputs": {"grants": [{"use": "sell", "status": "allowed", "clause": "II(c)"}]},
    "obligations": [{"kind": "powered_by", "clause": "III(a)", "text": "Powered by Stability AI"}],
    "territory": {"excluded": ["RU"], "clause": "V"},
}


def _decode(data: object) -> LicenseTerms:
    return msgspec.convert(data, LicenseTerms)


def test_terms_decode_with_tagged_conditions_and_round_trip() -> None:
    terms = _decode(STABILITY_COMMUNITY)
    grant = terms.grant_for(Purpose.COMMERCIAL_PRODUCT)
    assert grant is not None
    assert grant.status is GrantStatus.CONDITIONAL
    assert isinstance(grant.conditions[0], RevenueCap)
    assert grant.conditions[0].includes_affiliates is True
    assert terms.grant_for(Purpose.HOSTED_SERVICE) is None
    assert terms.output_grant_for(OutputUse.SELL) is not None
    assert _decode(msgspec.json.decode(msgspec.json.encode(terms))) == terms


def test_defaults_are_omitted_when_encoded() -> None:
    encoded = msgspec.json.decode(
        msgspec.json.encode(
            _decode({"grants": [{"purpose": "personal", "status": "allowed", "clause": "1"}]})
        )
    )
    assert encoded == {"grants": [{"purpose": "personal", "status": "allowed", "clause": "1"}]}


@pytest.mark.parametrize(
    ("grant", "message"),
    [
        ({"purpose": "world_domination", "status": "allowed", "clause": "1"}, "Invalid enum value"),
        ({"purpose": "personal", "status": "maybe", "clause": "1"}, "Invalid enum value"),
        ({"purpose": "personal", "status": "allowed", "clause": ""}, "length >= 1"),
        ({"purpose": "personal", "status": "allowed"}, "missing required field `clause`"),
        ({"purpose": "personal", "status": "allowed", "clause": "1", "extra": 1}, "unknown field `extra`"),
        (
            {
                "purpose": "personal",
                "status": "allowed",
                "clause": "1",
                "conditions": [{"kind": "vibes", "clause": "1"}],
            },
            "Invalid value 'vibes'",
        ),
        (
            {
                "purpose": "personal",
                "status": "allowed",
                "clause": "1",
                "conditions": [{"kind": "revenue_cap", "max_usd": -1, "clause": "1"}],
            },
            ">= 0",
        ),
        (
            {
                "purpose": "personal",
                "status": "allowed",
                "clause": "1",
                "conditions": [{"kind": "territory", "excluded": ["Russia"], "clause": "1"}],
            },
            "matching regex",
        ),
    ],
)
def test_invalid_grants_are_refused(grant: dict[str, Any], message: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=message):
        _decode({"grants": [grant]})


def test_a_purpose_granted_twice_is_refused() -> None:
    grant = {"purpose": "personal", "status": "allowed", "clause": "1"}
    with pytest.raises(msgspec.ValidationError, match="purpose 'personal' is granted twice"):
        _decode({"grants": [grant, grant]})


def test_an_output_use_granted_twice_is_refused() -> None:
    out = {"use": "sell", "status": "denied", "clause": "1"}
    with pytest.raises(msgspec.ValidationError, match="output use 'sell' is granted twice"):
        _decode({"grants": [], "outputs": {"grants": [out, out]}})


def test_conditions_are_told_apart_by_kind() -> None:
    grant = Grant(
        purpose=Purpose.COMMERCIAL_PRODUCT,
        status=GrantStatus.CONDITIONAL,
        clause="4",
        conditions=(
            MauCap(max_users=1_000_000, only_if_core_business=True, clause="4"),
            NoPaymentReceived(clause="1(c)"),
            TerritoryCondition(excluded=("EU", "GB", "KR"), clause="5"),
        ),
    )
    data = msgspec.to_builtins(grant)
    assert [c["kind"] for c in data["conditions"]] == ["mau_cap", "no_payment", "territory"]
    assert msgspec.convert(data, Grant) == grant
