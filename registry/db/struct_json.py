"""A JSON column whose Python value is a msgspec Struct (or a tuple of them).

Writing goes through the Struct's own validation (constraints included), so a document that
does not fit its schema never reaches the database, whoever writes it; reading gives the
Struct back, never a loose dict.
"""

from __future__ import annotations

from typing import Any

import msgspec
from sqlalchemy import JSON, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine


class StructJson(TypeDecorator[Any]):
    """JSON (JSONB on PostgreSQL) holding values of `schema`, a msgspec-convertible type."""

    impl = JSON(none_as_null=True)
    cache_ok = True

    def __init__(self, schema: Any) -> None:
        super().__init__()
        self.schema = schema

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        # None is SQL NULL, not the JSON document `null`, so `IS NULL` means "absent".
        if dialect.name == "postgresql":
            return dialect.type_descriptor(JSONB(none_as_null=True))
        return dialect.type_descriptor(JSON(none_as_null=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        builtins = msgspec.to_builtins(value)
        # Round-trip through the schema: constraints (ge=0, patterns, __post_init__) are checked
        # here, which constructing a Struct in Python does not do.
        msgspec.convert(builtins, self.schema)
        return builtins

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        return msgspec.convert(value, self.schema)
