"""Settings, read once from the environment (prefix `CLEARANCE_`) and passed down.

Nothing reads the environment at import time: `Settings.from_env()` is called by `create_app`
and by the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import msgspec

DEFAULT_DATA_DIR = ".clearance"


class SettingsError(ValueError):
    """A `CLEARANCE_*` variable has a value that cannot be used."""


class Settings(msgspec.Struct, kw_only=True):
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    """Where the embedded database, keys and images live (`CLEARANCE_DATA_DIR`)."""
    database_url: str = ""
    """SQLAlchemy async URL (`CLEARANCE_DATABASE_URL`); defaults to SQLite in `data_dir`."""
    strict_policy: bool = False
    """Turn `needs_review` decisions into `deny` (`CLEARANCE_STRICT_POLICY`)."""

    def __post_init__(self) -> None:
        if not self.database_url:
            path = (self.data_dir / "clearance.db").resolve()
            self.database_url = f"sqlite+aiosqlite:///{path}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            raw = env.get(f"CLEARANCE_{field.name.upper()}")
            if raw is not None:
                values[field.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return msgspec.convert(values, cls, strict=False, dec_hook=_decode)
        except msgspec.ValidationError as exc:
            raise SettingsError(f"invalid setting: {exc}") from exc


def _decode(type_: type, value: object) -> object:
    if type_ is Path and isinstance(value, str):
        return Path(value)
    raise NotImplementedError
