"""Tamper-evident audit log: append-only, hash-chained, signed checkpoints (docs/audit.md)."""

from registry.audit.admin import admin_change_event, catalog_load_event
from registry.audit.chain import append_in_session, append_on_connection
from registry.audit.checkpoints import Checkpoint, export_checkpoint, read_checkpoint_file
from registry.audit.errors import (
    AuditError,
    AuditLogClosedError,
    CheckpointFileError,
    PurgeError,
    SigningKeyError,
    UnsupportedDatabaseError,
)
from registry.audit.events import AppendedEvent, EventKind, NewEvent
from registry.audit.hashing import PayloadEncodingError
from registry.audit.log import AuditLog
from registry.audit.query import EventPage, EventQuery, InvalidCursorError, iterate_events, query_events
from registry.audit.retention import PurgeReport, purge_before
from registry.audit.signing import (
    CheckpointSigner,
    CheckpointVerifier,
    load_or_create_signing_key,
    load_verifier,
    read_public_key,
)
from registry.audit.usage import JobOutcome, MonthlyUsage, UsageTally, job_outcome_event, monthly_usage
from registry.audit.verify import VerificationReport, verify_chain

__all__ = [
    "AppendedEvent",
    "AuditError",
    "AuditLog",
    "AuditLogClosedError",
    "Checkpoint",
    "CheckpointFileError",
    "CheckpointSigner",
    "CheckpointVerifier",
    "EventKind",
    "EventPage",
    "EventQuery",
    "InvalidCursorError",
    "JobOutcome",
    "MonthlyUsage",
    "NewEvent",
    "PayloadEncodingError",
    "PurgeError",
    "PurgeReport",
    "SigningKeyError",
    "UnsupportedDatabaseError",
    "UsageTally",
    "VerificationReport",
    "admin_change_event",
    "append_in_session",
    "append_on_connection",
    "catalog_load_event",
    "export_checkpoint",
    "iterate_events",
    "job_outcome_event",
    "load_or_create_signing_key",
    "load_verifier",
    "monthly_usage",
    "purge_before",
    "query_events",
    "read_checkpoint_file",
    "read_public_key",
    "verify_chain",
]
