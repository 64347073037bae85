"""Delivery settings from `CLEARANCE_*` variables, and precise errors for bad ones."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.delivery.config import image_store, licensor_credentials, outbound_policy, retry_schedule
from gateway.settings import Settings, SettingsError


def test_defaults_are_strict() -> None:
    settings = Settings.from_env({})
    policy = outbound_policy(settings)
    assert policy.allow_http is False
    assert policy.allowlist == ()
    assert retry_schedule(settings).delays_s[:2] == (5, 300)
    assert image_store(settings).retention_days is None
    assert licensor_credentials(settings) == {}


def test_values_are_read_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "CLEARANCE_DATA_DIR": str(tmp_path),
            "CLEARANCE_OUTBOUND_ALLOW_HTTP": "true",
            "CLEARANCE_OUTBOUND_ALLOWLIST": "127.0.0.1:8081,10.0.0.0/8",
            "CLEARANCE_DELIVERY_RETRY_SCHEDULE": "0.1,0.2",
            "CLEARANCE_IMAGE_RETENTION_DAYS": "30",
            "CLEARANCE_LICENSOR_API_KEYS": "bfl=bfl_abc",
        }
    )
    assert outbound_policy(settings).allow_http
    assert len(outbound_policy(settings).allowlist) == 2
    assert retry_schedule(settings).delays_s == (0.1, 0.2)
    store = image_store(settings)
    assert store.retention_days == 30
    assert store.root == (tmp_path / "images").resolve()
    assert licensor_credentials(settings) == {"bfl": "bfl_abc"}


@pytest.mark.parametrize(
    ("variable", "value", "build"),
    [
        ("CLEARANCE_OUTBOUND_ALLOWLIST", "not-a-host-port", outbound_policy),
        ("CLEARANCE_DELIVERY_RETRY_SCHEDULE", "5,soon", retry_schedule),
        ("CLEARANCE_LICENSOR_API_KEYS", "bfl", licensor_credentials),
    ],
)
def test_bad_values_name_the_variable(variable: str, value: str, build: object) -> None:
    settings = Settings.from_env({variable: value})
    with pytest.raises(SettingsError, match=variable):
        build(settings)  # type: ignore[operator]
