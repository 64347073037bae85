"""Settings, read once from the environment (prefix `CLEARANCE_`) and passed down.

Nothing reads the environment at import time: `Settings.from_env()` is called by `create_app`
and by the CLI. Every variable is listed in docs/configuration.md.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

import msgspec

DEFAULT_DATA_DIR = ".clearance"

Positive = Annotated[int, msgspec.Meta(gt=0)]
NonNegative = Annotated[int, msgspec.Meta(ge=0)]
PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]


class SettingsError(ValueError):
    """A `CLEARANCE_*` variable has a value that cannot be used."""


class ExternalIssuerSettings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A company's own identity provider whose access tokens the gateway accepts."""

    issuer: Annotated[str, msgspec.Meta(min_length=1)]
    """Exact `iss` value of its tokens."""
    jwks_url: Annotated[str, msgspec.Meta(pattern=r"^https?://")]
    """Where its public keys are published."""
    audience: Annotated[str, msgspec.Meta(min_length=1)]
    """The `aud` value its tokens must carry for this gateway."""
    tenant_claim: Annotated[str, msgspec.Meta(min_length=1)]
    """The claim naming the tenant; the tenant never comes from the request."""
    algorithms: tuple[str, ...] = ("RS256", "ES256")
    """Pinned signature algorithms; never taken from the token header."""
    token_types: tuple[str, ...] = ("at+jwt",)
    """Accepted `typ` header values (some IdPs only send `JWT`)."""
    allowed_scopes: tuple[str, ...] = ("models:read", "jobs:write", "jobs:read", "audit:read")
    """Scopes this issuer may grant; anything else in its tokens is dropped (so never `admin`
    unless listed here)."""


class Settings(msgspec.Struct, kw_only=True):
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    """Where the embedded database, keys and images live (`CLEARANCE_DATA_DIR`)."""
    database_url: str = ""
    """SQLAlchemy async URL (`CLEARANCE_DATABASE_URL`); defaults to SQLite in `data_dir`."""
    strict_policy: bool = False
    """Turn `needs_review` decisions into `deny` (`CLEARANCE_STRICT_POLICY`)."""
    huge_page_arenas: bool = True
    """`clearance serve` puts Python's small-object arenas in transparent huge pages at start-up
    (`registry.policy.memory`: faster policy decisions) (`CLEARANCE_HUGE_PAGE_ARENAS`)."""

    issuer: Annotated[str, msgspec.Meta(pattern=r"^https?://[^?#]+$")] = "http://localhost:8000"
    """This authorization server's exact issuer URL, the `iss` of its tokens (`CLEARANCE_ISSUER`)."""
    audience: Annotated[str, msgspec.Meta(min_length=1)] = "clearance"
    """The `aud` of access tokens this gateway issues and requires (`CLEARANCE_AUDIENCE`)."""
    token_lifetime_seconds: Positive = 900
    """Lifetime of issued access tokens (`CLEARANCE_TOKEN_LIFETIME_SECONDS`)."""
    clock_leeway_seconds: NonNegative = 30
    """Allowed clock skew for `nbf` and `iat`; never applied to `exp` (`CLEARANCE_CLOCK_LEEWAY_SECONDS`)."""
    max_token_bytes: Positive = 4096
    """Bearer tokens longer than this are rejected before parsing (`CLEARANCE_MAX_TOKEN_BYTES`)."""
    max_body_bytes: Positive = 1_048_576
    """Request bodies larger than this answer 413 (`CLEARANCE_MAX_BODY_BYTES`)."""
    secret_pepper: str = ""
    """Server secret mixed into client-secret hashes and the signing-key encryption key
    (`CLEARANCE_SECRET_PEPPER`); empty: generated once into `data_dir/secret_pepper`."""
    external_issuers: tuple[ExternalIssuerSettings, ...] = ()
    """Trusted external issuers, a JSON list (`CLEARANCE_EXTERNAL_ISSUERS`)."""
    jwks_cache_seconds: PositiveSeconds = 3600.0
    """How long an external issuer's JWKS is used before a refresh (`CLEARANCE_JWKS_CACHE_SECONDS`)."""
    jwks_min_refresh_seconds: PositiveSeconds = 60.0
    """At most one JWKS fetch per issuer in this interval, whatever the unknown `kid`s
    (`CLEARANCE_JWKS_MIN_REFRESH_SECONDS`)."""
    auth_failure_limit: Positive = 10
    """Failed client authentications allowed per client id and per address in a window
    before 429 (`CLEARANCE_AUTH_FAILURE_LIMIT`)."""
    auth_failure_window_seconds: PositiveSeconds = 60.0
    """The window of `auth_failure_limit` (`CLEARANCE_AUTH_FAILURE_WINDOW_SECONDS`)."""
    state_sync_seconds: PositiveSeconds = 5.0
    """How often a server picks up revocations and key rotations made elsewhere
    (`CLEARANCE_STATE_SYNC_SECONDS`)."""
    readiness_timeout_seconds: PositiveSeconds = 2.0
    """`/health/ready` fails when the database does not answer within this time
    (`CLEARANCE_READINESS_TIMEOUT_SECONDS`)."""
    shutdown_grace_seconds: PositiveSeconds = 10.0
    """Time given to requests in flight on shutdown (`CLEARANCE_SHUTDOWN_GRACE_SECONDS`)."""
    log_format: Literal["text", "json"] = "text"
    """How `clearance serve` and `clearance demo` log (`CLEARANCE_LOG_FORMAT`): uvicorn's text
    lines, or one JSON object per line for log collectors (`gateway.cli.logs`)."""
    outbound_allow_http: bool = False
    """Allow plain-http webhook and report URLs (`CLEARANCE_OUTBOUND_ALLOW_HTTP`); https only by default."""
    outbound_allowlist: str = ""
    """Comma-separated CIDRs or host:port admitted even when private or loopback, e.g. a test
    receiver on 127.0.0.1:8081 (`CLEARANCE_OUTBOUND_ALLOWLIST`)."""
    hf_endpoint: str = ""
    """Hugging Face Hub endpoint for imports through the admin API (`CLEARANCE_HF_ENDPOINT`);
    empty: https://huggingface.co. Checked by the outbound guard; a request never names one."""
    hf_import_root: Path | None = None
    """Directory under which the admin API may import local Hugging Face snapshots
    (`CLEARANCE_HF_IMPORT_ROOT`); unset: no local imports over HTTP."""
    delivery_retry_schedule: str = ""
    """Comma-separated retry delays in seconds for webhooks and licensor reports; empty: 5 s,
    5 min, 30 min, 2 h, 5 h, 10 h, 10 h (`CLEARANCE_DELIVERY_RETRY_SCHEDULE`)."""
    image_retention_days: NonNegative = 0
    """Stored images older than this are purged; 0 keeps them (`CLEARANCE_IMAGE_RETENTION_DAYS`)."""
    image_link_seconds: Annotated[int, msgspec.Meta(ge=1, le=604_800)] = 3600
    """How long an image URL of `POST /v1/images/generations` (`response_format=url`) can be
    fetched without credentials, as OpenAI's do (`CLEARANCE_IMAGE_LINK_SECONDS`, at most 7 days)."""
    image_store_url: str = ""
    """Where images are stored (`CLEARANCE_IMAGE_STORE_URL`): empty, `DATA_DIR/images`; or an
    object store every gateway process shares, `s3://bucket/prefix`, `gs://bucket/prefix` or
    `az://container/prefix`, its credentials, region and endpoint from the cloud's own
    environment variables (`AWS_ACCESS_KEY_ID`, `AWS_REGION`, `AWS_ENDPOINT`, ...)."""
    licensor_api_keys: str = ""
    """Licensor metering credentials, `name=key` pairs separated by commas, e.g. `bfl=bfl_...`
    (`CLEARANCE_LICENSOR_API_KEYS`); never stored in the database or taken from a request."""
    provider_api_keys: str = ""
    """API keys of provider runners, `runner-or-provider=key` pairs separated by commas
    (`CLEARANCE_PROVIDER_API_KEYS`); never stored in the database or taken from a request."""
    provider_proxy: Annotated[str, msgspec.Meta(pattern=r"^(|https?://[^/?#\s]+/?)$")] = ""
    """HTTP proxy that provider runners' calls go through, `http://[user:password@]host:port`
    (`CLEARANCE_PROVIDER_PROXY`); empty: the environment's `HTTPS_PROXY` / `HTTP_PROXY` /
    `NO_PROXY`, as the providers' own SDKs read them. Webhooks, licensor reports and Hub imports
    never go through a proxy: the outbound guard pins their connections to vetted addresses."""
    job_queue_depth: Positive = 16
    """Jobs a tenant may have queued before submissions answer 429 (`CLEARANCE_JOB_QUEUE_DEPTH`)."""
    job_concurrency: Positive = 4
    """Jobs of one tenant running at once, every gateway process on the database together
    (`CLEARANCE_JOB_CONCURRENCY`)."""
    job_rate_per_minute: Positive = 600
    """Job submissions per tenant and minute, every gateway process on the database together
    (`CLEARANCE_JOB_RATE_PER_MINUTE`)."""
    job_lease_seconds: PositiveSeconds = 15.0
    """A job whose gateway process has not renewed it for this long is recovered by another
    (queued: run; running: run again on a local runner, failed on a provider's)
    (`CLEARANCE_JOB_LEASE_SECONDS`)."""
    job_max_restarts: NonNegative = 1
    """Times a job running on a local runner is put back in the queue after its gateway process
    died; past it the job fails (a job that crashes its process must not do so forever)
    (`CLEARANCE_JOB_MAX_RESTARTS`)."""
    metrics_token: Annotated[str, msgspec.Meta(pattern=r"^(|[!-~]{16,})$")] = ""
    """Bearer token a Prometheus scrape of `GET /metrics` must carry, at least 16 visible ASCII
    characters (`CLEARANCE_METRICS_TOKEN`); empty: the endpoint is off (404). Metrics are
    collected either way."""

    def __post_init__(self) -> None:
        if not self.database_url:
            path = (self.data_dir / "clearance.db").resolve()
            self.database_url = f"sqlite+aiosqlite:///{path}"
        self.issuer = self.issuer.rstrip("/")
        if not _secure_or_loopback(self.issuer):
            raise ValueError(f"CLEARANCE_ISSUER must be https (or http on localhost/loopback): {self.issuer}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            name = f"CLEARANCE_{field.name.upper()}"
            raw = env.get(name)
            if raw is None:
                continue
            if field.name in _JSON_FIELDS:
                try:
                    values[field.name] = msgspec.json.decode(raw)
                except msgspec.DecodeError as exc:
                    raise SettingsError(f"invalid setting: {name} is not valid JSON: {exc}") from exc
            else:
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(values, cls, strict=False, dec_hook=_decode)
        except msgspec.ValidationError as exc:
            raise SettingsError(f"invalid setting: {exc}") from exc


_JSON_FIELDS = frozenset({"external_issuers"})


def _secure_or_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https":
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _decode(type_: type, value: object) -> object:
    if type_ is Path and isinstance(value, str | Path):
        return Path(value)
    raise NotImplementedError
