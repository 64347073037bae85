"""Domain errors of the audit log."""

from __future__ import annotations


class AuditError(Exception):
    """Base of the audit log's errors."""


class AuditLogClosedError(AuditError):
    """`append` was called on an `AuditLog` that is not started or already closed."""


class UnsupportedDatabaseError(AuditError):
    """The audit chain needs PostgreSQL or SQLite to serialise its appends."""


class SigningKeyError(AuditError):
    """The checkpoint signing key (or a public key to verify with) is missing or unreadable."""


class CheckpointFileError(AuditError):
    """An exported checkpoint file is not valid (names the file and the field)."""


class PurgeError(AuditError):
    """A retention purge was refused (nothing would be left to anchor, a date in the future...)."""
