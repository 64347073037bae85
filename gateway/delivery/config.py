"""Delivery objects built once from the settings (outbound policy, retries, images, credentials)."""

from __future__ import annotations

from gateway.delivery.usage_reports import parse_licensor_credentials
from gateway.settings import Settings, SettingsError
from gateway.storage import ImageStore
from registry.delivery.retry import RetrySchedule, RetryScheduleError
from registry.netguard import OutboundPolicy
from registry.netguard.policy import AllowlistEntryError


def outbound_policy(settings: Settings) -> OutboundPolicy:
    try:
        return OutboundPolicy.from_settings(
            allow_http=settings.outbound_allow_http, allowlist=settings.outbound_allowlist
        )
    except AllowlistEntryError as exc:
        raise SettingsError(f"CLEARANCE_OUTBOUND_ALLOWLIST: {exc}") from exc


def retry_schedule(settings: Settings) -> RetrySchedule:
    if not settings.delivery_retry_schedule.strip():
        return RetrySchedule()
    try:
        return RetrySchedule.parse(settings.delivery_retry_schedule)
    except RetryScheduleError as exc:
        raise SettingsError(f"CLEARANCE_DELIVERY_RETRY_SCHEDULE: {exc}") from exc


def image_store(settings: Settings) -> ImageStore:
    return ImageStore(settings.data_dir / "images", retention_days=settings.image_retention_days or None)


def licensor_credentials(settings: Settings) -> dict[str, str]:
    try:
        return parse_licensor_credentials(settings.licensor_api_keys)
    except ValueError as exc:
        raise SettingsError(f"CLEARANCE_LICENSOR_API_KEYS: {exc}") from exc
