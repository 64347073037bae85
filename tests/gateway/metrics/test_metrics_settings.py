"""`CLEARANCE_METRICS_TOKEN`: empty by default (the endpoint is off); a token too short to be a
secret, or one that cannot travel in a header, stops start-up."""

from __future__ import annotations

import pytest

from gateway.settings import Settings, SettingsError


def test_the_metrics_token_is_off_by_default() -> None:
    assert Settings.from_env({}).metrics_token == ""


def test_a_metrics_token_is_read_from_the_environment() -> None:
    token = "0123456789abcdef-scrape"
    assert Settings.from_env({"CLEARANCE_METRICS_TOKEN": token}).metrics_token == token


@pytest.mark.parametrize("token", ["short", "0123456789abcde", "0123456789 abcdef", "0123456789abcdéf"])
def test_a_weak_or_unsendable_metrics_token_is_refused(token: str) -> None:
    with pytest.raises(SettingsError, match="metrics_token"):
        Settings.from_env({"CLEARANCE_METRICS_TOKEN": token})
