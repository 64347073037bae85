"""Delivery objects built once from the settings (outbound policy, retries, images, credentials)."""

from __future__ import annotations

from gateway.delivery.usage_reports import parse_licensor_credentials
from gateway.settings import Settings, SettingsError
from gateway.storage import ImageBackend, ImageStore
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


def image_store(settings: Settings) -> ImageBackend:
    """`DATA_DIR/images`, or the object store that `CLEARANCE_IMAGE_STORE_URL` names."""
    retention = settings.image_retention_days or None
    if not settings.image_store_url:
        return ImageStore(settings.data_dir / "images", retention_days=retention)
    from gateway.storage.objects import ObjectImageStore  # obstore only where it is used

    try:
        return ObjectImageStore(settings.image_store_url, retention_days=retention)
    except Exception as exc:  # obstore's configuration errors: an unknown option, a bad URL
        raise SettingsError(f"CLEARANCE_IMAGE_STORE_URL: {exc}") from exc


def licensor_credentials(settings: Settings) -> dict[str, str]:
    try:
        return parse_licensor_credentials(settings.licensor_api_keys)
    except ValueError as exc:
        raise SettingsError(f"CLEARANCE_LICENSOR_API_KEYS: {exc}") from exc
