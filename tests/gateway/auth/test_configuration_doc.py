"""docs/configuration.md lists every setting, and every variable it names exists."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec

from gateway.settings import Settings

DOC = Path(__file__).resolve().parents[3] / "docs" / "configuration.md"


def test_every_setting_is_documented_and_nothing_else() -> None:
    documented = set(re.findall(r"`(CLEARANCE_[A-Z_]+)`", DOC.read_text()))
    fields = {f"CLEARANCE_{field.name.upper()}" for field in msgspec.structs.fields(Settings)}
    assert documented == fields


def test_external_issuer_example_parses() -> None:
    example = re.search(r"```json\n(.*?)```", DOC.read_text(), re.DOTALL)
    assert example is not None
    settings = Settings.from_env({"CLEARANCE_EXTERNAL_ISSUERS": example.group(1)})
    assert settings.external_issuers[0].tenant_claim == "org_id"
