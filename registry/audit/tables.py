"""ORM tables of the audit log: the hash-chained events, signed checkpoints and retention anchors.

The event table is append-only: the migration installs triggers that reject UPDATE and DELETE
(and TRUNCATE on PostgreSQL). Only the retention purge may delete, and only a prefix of the
chain (see `registry.audit.retention`).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from registry.db.base import Base, UtcDateTime

SequenceNumber = BigInteger().with_variant(Integer(), "sqlite")
"""BIGINT on PostgreSQL; INTEGER on SQLite so the sequence number is the rowid (ordered, compact)."""


class AuditEventRow(Base):
    """One event of the chain. `seq` is gapless: the appender assigns head + 1 under the chain lock."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(SequenceNumber, primary_key=True, autoincrement=False)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    kind: Mapped[str] = mapped_column(String(64), nullable=False)
    actor_subject: Mapped[str | None] = mapped_column(String(255))
    client_id: Mapped[str | None] = mapped_column(String(255))
    tenant: Mapped[str | None] = mapped_column(String(255))
    request_id: Mapped[str | None] = mapped_column(String(255))
    decision_id: Mapped[str | None] = mapped_column(String(255))
    job_id: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[str] = mapped_column(Text, nullable=False)
    """Canonical JSON text, hashed byte for byte (hence TEXT, not JSONB, which re-orders keys)."""
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)

    __table_args__ = (
        Index("ix_audit_events_recorded_at", "recorded_at"),
        Index("ix_audit_events_tenant_seq", "tenant", "seq"),
        Index("ix_audit_events_kind_seq", "kind", "seq"),
        Index("ix_audit_events_job_id", "job_id"),
        Index("ix_audit_events_decision_id", "decision_id"),
        Index("ix_audit_events_request_id", "request_id"),
    )


class AuditCheckpointRow(Base):
    """An Ed25519 signature over (sequence, chain hash, time): proof of the chain's state then."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False, index=True)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    key_id: Mapped[str] = mapped_column(String(64), nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64), nullable=False)


class AuditAnchorRow(Base):
    """Where the chain starts after a retention purge: the signed state of the last purged event.

    Verification starts from the newest anchor: its `chain_hash` stands in for the purged prefix.
    """

    __tablename__ = "audit_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, nullable=False)
    chain_hash: Mapped[bytes] = mapped_column(LargeBinary(32), nullable=False)
    signed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)
    key_id: Mapped[str] = mapped_column(String(64), nullable=False)
    signature: Mapped[bytes] = mapped_column(LargeBinary(64), nullable=False)
    purged_before: Mapped[dt.datetime] = mapped_column(UtcDateTime, nullable=False)


class AuditPurgeClearanceRow(Base):
    """SQLite only in practice: a row here, inserted and removed inside the purge transaction,
    is what lets the delete trigger pass for `seq <= through_seq`. It never outlives a commit.

    Also the target of the no-op write that takes SQLite's write lock before the chain head is read.
    """

    __tablename__ = "audit_purge_clearances"

    through_seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
